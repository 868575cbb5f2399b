//! The config parser on arbitrary UTF-8: a bad file must be an error that
//! names its problem, never a panic (hallqd prints it and exits 64).

#![no_main]

use hallq_daemon::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match Config::from_toml_str(text, "fuzz.toml") {
        Ok(config) => {
            // A valid config answers the questions a session asks of it.
            let _ = config.grant_for(text.as_bytes());
            for hall in &config.halls {
                assert!(config.hall(&hall.id).is_some());
            }
        }
        Err(e) => {
            assert!(e.to_string().starts_with("config fuzz.toml:"), "{e}");
        }
    }
});
