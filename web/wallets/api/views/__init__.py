"""The API's views, one module per resource: thin, they parse input, call ``money``, shape the JSON."""
