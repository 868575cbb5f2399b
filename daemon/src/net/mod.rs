//! The QUIC service: endpoint, sessions, authentication and request routing.

pub mod tls;
