"""The pipeline's policy, as workflow versions: the schema (schema), the typed view the pipeline
reads (values), reading versions (selectors) and writing them (services)."""
