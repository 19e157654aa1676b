"""Languages: the registry (FLORES-200 codes, the study's 100, tiers), Unicode writing systems,
language identification, and the UDHR text shipped for every language."""
