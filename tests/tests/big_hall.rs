//! A hall of 100,000 waiting tickets (issue 19 item 2): every answer fits
//! the 64 KiB frame limit. `status` lists the first
//! [`WAITING_PAGE_MAX`] waiting with whole counts, and `StatusPage` pages
//! through all of them; before, `status` died at about 3,500 waiting (the
//! daemon could not encode the reply and the client lost the connection).
//!
//! The tickets are issued for real — over QUIC, through the core and the
//! journal — by many requests in flight at once, so the group commit makes
//! it quick.

use std::collections::HashSet;
use std::fs;
use std::sync::Arc;

use hallq_proto::types::Lane;
use hallq_proto::wire::WAITING_PAGE_MAX;
use hallq_tests::{item, TestHall, ADMIN, KIOSK};

const WAITING: u32 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_answers_at_one_hundred_thousand_waiting() {
    let hall = TestHall::new().expect("test hall");
    let text = fs::read_to_string(hall.config()).expect("read config");
    let text = text.replacen(
        "[[token]]",
        "[limits]\nrequests_per_second = 100000\nstreams_per_connection = 1000\n\n[[token]]",
        1,
    );
    fs::write(hall.config(), text).expect("write config");
    let daemon = hall.start().expect("start hallqd");
    let admin = daemon.connect(ADMIN).await;
    let kiosk = daemon.connect(KIOSK).await;

    // 100,000 issues, 500 in flight at a time, across the four items without a daily cap.
    let letters = ['A', 'B', 'D', 'E']; // C has a daily cap
    let issued = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut workers = Vec::new();
    for w in 0..500u32 {
        let client = if w % 2 == 0 {
            admin.clone()
        } else {
            kiosk.clone()
        };
        let issued = issued.clone();
        workers.push(tokio::spawn(async move {
            let mut n = w;
            while n < WAITING {
                let letter = letters[(n % 4) as usize];
                client
                    .issue(item(letter), Lane::WalkIn, None)
                    .await
                    .unwrap_or_else(|e| panic!("issue {n}: {e}"));
                issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                n += 500;
            }
        }));
    }
    for w in workers {
        tokio::time::timeout(std::time::Duration::from_secs(600), w)
            .await
            .expect("issuing 100,000 tickets took over 10 minutes")
            .expect("issuing worker");
    }

    // The old request answers, its list capped, its counts whole.
    let status = kiosk.status().await.expect("status at 100,000 waiting");
    assert_eq!(status.waiting.len(), WAITING_PAGE_MAX as usize);
    let counted: u32 = status
        .view
        .items
        .iter()
        .map(|i| i.waiting.iter().sum::<u32>())
        .sum();
    assert_eq!(counted, WAITING);

    // Paging visits every waiting ticket once, in order.
    let mut seen = HashSet::new();
    let mut from = 0;
    loop {
        let page = admin
            .status_page(from, WAITING_PAGE_MAX * 10)
            .await
            .unwrap_or_else(|e| panic!("page from {from}: {e}"));
        assert_eq!(page.waiting_total, WAITING);
        assert_eq!(page.from, from);
        assert!(
            page.status.waiting.len() <= WAITING_PAGE_MAX as usize,
            "page capped"
        );
        if page.status.waiting.is_empty() {
            break;
        }
        for t in &page.status.waiting {
            assert!(seen.insert(t.ticket.to_string()), "{} twice", t.ticket);
        }
        from += page.status.waiting.len() as u32;
    }
    assert_eq!(seen.len(), WAITING as usize);
}
