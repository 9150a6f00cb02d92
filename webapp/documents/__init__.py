"""Sales documents: the money rule, printable views and PDF rendering."""
