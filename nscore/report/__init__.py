"""Report layer: everything a reader sees: number formatting, words, tables, figures, chapter prose,
the chart renderer and the Sphinx extensions that shape the pages."""
