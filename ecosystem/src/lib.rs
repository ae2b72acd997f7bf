//! `event` with the wider ecosystem: this package only holds examples (`http`, `tls_echo`),
//! their tests, and the runtime micro-benchmark against tokio (`cargo bench -p event-ecosystem`).
//! It lives apart from the library so that building the library's own examples never compiles
//! hyper, rustls or tokio.
