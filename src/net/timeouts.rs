//! The default-timeout accessors every socket type has (TCP and Unix streams: read and write;
//! UDP and Unix datagrams: receive and send), written once: each forwards to the socket's
//! `Conn` or `DatagramCore`, which holds the timeouts.

/// `default_timeouts!(field: set_a, a, "a"; set_b, b, "b")` writes, on a socket type whose
/// `field` has the same four methods, `set_a`/`a` and `set_b`/`b` with their docs.
macro_rules! default_timeouts {
    ($field:ident: $($set:ident, $get:ident, $what:literal);+) => {$(
        #[doc = concat!("Sets the timeout every later ", $what, " uses unless it gives its own (`None`: wait forever).")]
        pub fn $set(&self, timeout: Option<std::time::Duration>) {
            self.$field.$set(timeout);
        }

        #[doc = concat!("The timeout ", $what, "s use by default.")]
        pub fn $get(&self) -> Option<std::time::Duration> {
            self.$field.$get()
        }
    )+};
}
