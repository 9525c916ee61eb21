"""Build layer: the project model, rebuild keys, chapter execution, the site with its versions and
bundles, and the PDF."""
