//! Diagnostics through `tracing` when the `tracing` feature is on; nothing at all when it is off
//! (the macro expands to an empty block, so its arguments are not even evaluated).

/// `event!(level, fields..., "message")`: forwards to `tracing::<level>!` under the feature.
macro_rules! event {
    ($level:ident, $($arg:tt)*) => {{
        #[cfg(feature = "tracing")]
        {
            tracing::$level!(target: "event", $($arg)*);
        }
    }};
}

pub(crate) use event;
