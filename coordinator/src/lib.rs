//! The coordinator: an HTTP server that serves the Dana coordinator's endpoint
//! contract to main apps and pulling browser workers.
