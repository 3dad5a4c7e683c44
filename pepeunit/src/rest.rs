//! The REST transport (arrives with the REST client).
