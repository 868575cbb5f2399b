//! Prometheus metrics and the health check, on `metrics_listen` (off by
//! default): `GET /metrics` in the exposition format, `GET /healthz` as JSON
//! (200 when every hall's journal is writable, 503 otherwise).
//!
//! Names follow Prometheus conventions: `hallq_` prefix, base units
//! (seconds), `_total` on counters. What is recorded where:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `hallq_tickets_issued_total` | counter | hall, item, lane |
//! | `hallq_tickets_called_total` / `_served_total` / `_no_show_total` | counter | hall, item |
//! | `hallq_tickets_waiting` | gauge | hall, item |
//! | `hallq_oldest_wait_seconds` | gauge | hall, item |
//! | `hallq_windows_open` | gauge | hall |
//! | `hallq_request_duration_seconds` | histogram | kind |
//! | `hallq_requests_refused_total` | counter | kind, code |
//! | `hallq_journal_fsync_duration_seconds` | histogram | |
//! | `hallq_journal_batch_records` | histogram | |
//! | `hallq_display_subscribers` | gauge | hall |
//! | `hallq_display_dropped_total` | counter | hall |
//! | `hallq_outbox_pending` | gauge | hall |
//! | `hallq_connections` | gauge | role |
//! | `hallq_alerts_raised_total` | counter | hall, kind (issue 21) |
//! | `hallq_alerts_active` | gauge | hall, kind |
//!
//! Recording is a no-op until [`install`] runs, so tests and a daemon
//! without `metrics_listen` pay next to nothing.
//!
//! The server knows nothing of the daemon: [`serve`] is given the health
//! report as a function, so the halls can record here without this module
//! depending on them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use hallq_core::{Event, Hall};
use hallq_proto::wire::HealthReport;

/// Set once a recorder is installed: the per-command gauges (which read the
/// whole hall view) are skipped without one.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether metrics are being collected.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Installs the global recorder. Call once, before serving.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[
            0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
            1.0,
        ])
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    ENABLED.store(true, Ordering::Relaxed);
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "hallq_tickets_issued_total",
        "Tickets issued (DB33/T 2036.4 §7.3.4)."
    );
    describe_counter!(
        "hallq_tickets_called_total",
        "Tickets called to a window (§7.3.6)."
    );
    describe_counter!("hallq_tickets_served_total", "Services finished.");
    describe_counter!(
        "hallq_tickets_no_show_total",
        "Called visitors who did not come (过号)."
    );
    describe_gauge!(
        "hallq_tickets_waiting",
        "Tickets waiting in each item's line."
    );
    describe_gauge!(
        "hallq_oldest_wait_seconds",
        Unit::Seconds,
        "How long the longest-waiting ticket of each item has waited."
    );
    describe_gauge!("hallq_windows_open", "Windows open (not paused or closed).");
    describe_histogram!(
        "hallq_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its durable answer."
    );
    describe_counter!(
        "hallq_requests_refused_total",
        "Requests refused, by error code."
    );
    describe_histogram!(
        "hallq_journal_fsync_duration_seconds",
        Unit::Seconds,
        "Write + fdatasync of one journal batch."
    );
    describe_histogram!(
        "hallq_journal_batch_records",
        "Records per journal batch (group commit)."
    );
    describe_gauge!("hallq_display_subscribers", "Display boards subscribed.");
    describe_counter!(
        "hallq_display_dropped_total",
        "Displays dropped for falling behind."
    );
    describe_gauge!(
        "hallq_outbox_pending",
        "Notifications waiting for the SMS gateway's acknowledgement."
    );
    describe_gauge!("hallq_connections", "Open client connections by role.");
    describe_counter!(
        "hallq_kiosk_print_failures_total",
        "Ticket slips a kiosk could not print (the ticket stays issued; §7.3.4)."
    );
    describe_counter!(
        "hallq_alerts_raised_total",
        "Alerts raised to the hall's managers, by kind (issue 21)."
    );
    describe_gauge!(
        "hallq_alerts_active",
        "Alerts active now, by kind (issue 21)."
    );
}

/// Counts what `events` did in hall `hall_id` (live commands only: a
/// replay is not new traffic).
pub fn record_events(hall_id: &str, hall: &Hall, events: &[Event]) {
    let item_of = |number: &hallq_proto::types::TicketNo| number.item.to_string();
    for event in events {
        match event {
            Event::Issued { issued, .. } => {
                let lane = match issued.lane {
                    hallq_proto::types::Lane::Appointment => "appointment",
                    hallq_proto::types::Lane::Priority(_) => "priority",
                    hallq_proto::types::Lane::WalkIn => "walk_in",
                };
                metrics::counter!("hallq_tickets_issued_total", "hall" => hall_id.to_owned(), "item" => item_of(&issued.number), "lane" => lane).increment(1);
            }
            Event::Called { number, .. } => {
                metrics::counter!("hallq_tickets_called_total", "hall" => hall_id.to_owned(), "item" => item_of(number)).increment(1);
            }
            Event::Finished { number, .. } | Event::ServedWith { number, .. } => {
                metrics::counter!("hallq_tickets_served_total", "hall" => hall_id.to_owned(), "item" => item_of(number)).increment(1);
            }
            Event::NoShow { number, .. } => {
                metrics::counter!("hallq_tickets_no_show_total", "hall" => hall_id.to_owned(), "item" => item_of(number)).increment(1);
            }
            Event::AlertRaised { alert, .. } => {
                metrics::counter!("hallq_alerts_raised_total", "hall" => hall_id.to_owned(), "kind" => alert.kind.key()).increment(1);
            }
            _ => {}
        }
    }
    if events
        .iter()
        .any(|e| matches!(e, Event::AlertRaised { .. } | Event::AlertCleared { .. }))
    {
        record_alerts(hall_id, hall);
    }
    record_gauges(hall_id, hall);
}

/// Sets `hallq_alerts_active` of every kind from the hall's active set.
pub fn record_alerts(hall_id: &str, hall: &Hall) {
    for kind in hallq_proto::console::AlertKind::ALL {
        let active = hall
            .active_alerts()
            .values()
            .filter(|a| a.kind == kind)
            .count();
        metrics::gauge!("hallq_alerts_active", "hall" => hall_id.to_owned(), "kind" => kind.key())
            .set(active as f64);
    }
}

/// Sets the hall's gauges from its state. O(I + W).
pub fn record_gauges(hall_id: &str, hall: &Hall) {
    let view = hall.view();
    let now = crate::clock::now();
    for item in &view.items {
        let code = item.code.to_string();
        let waiting: u32 = item.waiting.iter().sum();
        metrics::gauge!("hallq_tickets_waiting", "hall" => hall_id.to_owned(), "item" => code.clone()).set(f64::from(waiting));
        let oldest = hall
            .oldest_waiting(item.code)
            .map_or(0.0, |since| now.0.saturating_sub(since.0) as f64 / 1000.0);
        metrics::gauge!("hallq_oldest_wait_seconds", "hall" => hall_id.to_owned(), "item" => code)
            .set(oldest);
    }
    let open = view
        .windows
        .iter()
        .filter(|w| w.state == hallq_proto::views::WindowState::Open)
        .count();
    metrics::gauge!("hallq_windows_open", "hall" => hall_id.to_owned()).set(open as f64);
}

/// Serves `/metrics` and `/healthz` on `listen` until the daemon stops;
/// `health` makes the report `/healthz` answers with.
pub async fn serve(
    listen: SocketAddr,
    handle: PrometheusHandle,
    health: impl Fn() -> HealthReport + Send + Sync + 'static,
) {
    let health = Arc::new(health);
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(%listen, error = %e, "cannot listen for metrics");
            return;
        }
    };
    tracing::info!(%listen, "metrics and health on http://{listen}/metrics and /healthz");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        let health = health.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &handle, &*health))
                .await;
        });
    }
}

/// One HTTP/1.1 request: only the request line matters.
async fn answer(
    mut stream: TcpStream,
    handle: &PrometheusHandle,
    health: &(dyn Fn() -> HealthReport + Send + Sync),
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // Read until the end of the headers, at most one buffer.
    while len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let request = String::from_utf8_lossy(&buf[..len]);
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", handle.render()),
        ("GET", "/healthz") => {
            let report = health();
            let status = if report.healthy {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let body = serde_json::to_string(&report).unwrap_or_default();
            (status, "application/json", body)
        }
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics or /healthz\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_owned(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
