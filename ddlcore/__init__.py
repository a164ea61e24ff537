"""ddlcore: the library behind the ddl workflow (Dynamic Distinction Learning for video anomaly detection)."""

__version__ = "0.1.0"
