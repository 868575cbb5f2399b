//! The daemon's one window onto the wall clock, and business-day arithmetic.
//!
//! The dispatch core never reads a clock (clippy bans it there); the I/O
//! layer reads it here and passes the instant in.

use hallq_proto::types::Timestamp;

use hallq_core::BusinessDay;

/// Environment variable that shifts the daemon's clock by this many seconds
/// (may be negative). For end-to-end tests only (a booking forfeited 30
/// minutes after its slot, closing time), so they need not wait for the
/// hour; a running hall never sets it. Read once, at the first reading.
pub const TEST_CLOCK_OFFSET_ENV: &str = "HALLQD_TEST_CLOCK_OFFSET_SECS";

/// Now, as a [`Timestamp`].
pub fn now() -> Timestamp {
    static OFFSET_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let offset = *OFFSET_MS.get_or_init(|| {
        let secs = std::env::var(TEST_CLOCK_OFFSET_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if secs != 0 {
            tracing::warn!(
                offset_secs = secs,
                "{TEST_CLOCK_OFFSET_ENV} is set: the daemon's clock is shifted (tests only)"
            );
        }
        secs.saturating_mul(1000)
    });
    #[allow(clippy::disallowed_methods)] // the one place the daemon reads the clock
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(
        (since_epoch.as_millis() as i64)
            .saturating_add(offset)
            .max(0) as u64,
    )
}

/// The calendar day at `at` in a hall `offset_minutes` east of UTC, as
/// `yyyymmdd` (the business day: ticket numbers restart with it).
pub fn business_day(at: Timestamp, offset_minutes: i32) -> BusinessDay {
    let local_ms = at.0 as i64 + i64::from(offset_minutes) * 60_000;
    hallq_core::appointment::day_of(local_ms.div_euclid(86_400_000))
}

/// The instant business day `day` begins (local midnight) in a hall
/// `offset_minutes` east of UTC.
pub fn day_start(day: BusinessDay, offset_minutes: i32) -> Timestamp {
    let ms =
        hallq_core::appointment::days_of(day) * 86_400_000 - i64::from(offset_minutes) * 60_000;
    Timestamp(ms.max(0) as u64)
}

/// `20261122` → `"2026-11-22"`, the journal's file-name form.
pub fn day_string(day: BusinessDay) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day / 10_000,
        day / 100 % 100,
        day % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_days_follow_the_halls_time_zone() {
        // 2026-11-22T16:30:00Z is 00:30 on the 23rd in China (UTC+8).
        let t = Timestamp(1_795_365_000_000);
        assert_eq!(business_day(t, 0), 20261122);
        assert_eq!(business_day(t, 480), 20261123);
        assert_eq!(business_day(Timestamp(0), 0), 19700101);
        assert_eq!(business_day(Timestamp(951_782_400_000), 0), 20000229);
        assert_eq!(day_string(20261122), "2026-11-22");
    }
}
