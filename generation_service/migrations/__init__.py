"""SQL migrations of the Generation service's own tables (schema ``generation``)."""
