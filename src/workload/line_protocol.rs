//! Time entries → InfluxDB line protocol (DOMAIN.md §5.1 schema). (Interface stub.)
