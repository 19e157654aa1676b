"""mixkit: multilingual vision-language training mixes from a YAML recipe."""
__version__ = "0.1.0"
