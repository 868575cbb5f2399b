//! 好差评 (seed 000 §四(六)5–6): one rating per service, a batch of
//! tickets of one item counts once. (The work order a bad rating raises is
//! the outbox's, and tested there: hallq-daemon's `fanout::outbox`.)

use super::*;

fn rating(r: u8) -> Rating {
    Rating::new(r).unwrap()
}

fn rate(ticket: &str, r: u8, window: Option<u16>) -> Command {
    Command::Rate {
        ticket: no(ticket),
        rating: rating(r),
        window: window.map(w),
    }
}

#[test]
fn a_service_is_rated_once_after_finishing() {
    let mut run = Run::basic();
    run.open(1);
    let a1 = run.walk_in('A');
    run.walk_in('A');
    // Not finished yet: nothing to rate.
    assert!(matches!(
        run.err(rate("A001", 5, None)),
        DispatchError::WrongTicketState { .. }
    ));
    run.call(1);
    assert!(matches!(
        run.err(rate("A001", 5, None)),
        DispatchError::WrongTicketState { .. }
    ));
    run.ok(Command::LogIn {
        window: w(1),
        staff: StaffId::new("S7").unwrap(),
        post: Post::A,
    });
    run.ok(Command::Finish {
        window: w(1),
        rating: None,
    });
    // Another window's terminal may not rate it; its own may.
    assert_eq!(
        run.err(rate("A001", 4, Some(2))),
        DispatchError::NotServedAt {
            ticket: a1,
            window: w(2)
        }
    );
    let events = run.ok(rate("A001", 4, Some(1)));
    assert!(matches!(
        &events[0],
        Event::Rated { number, window, staff: Some(s), rating: r, .. }
            if *number == a1 && *window == w(1) && s.as_str() == "S7" && r.value() == 4
    ));
    assert_eq!(
        run.err(rate("A001", 1, None)),
        DispatchError::AlreadyRated(a1)
    );
    // Rated at finishing: no second rating either.
    run.call(1);
    run.ok(Command::Finish {
        window: w(1),
        rating: Some(rating(5)),
    });
    assert_eq!(
        run.err(rate("A002", 3, None)),
        DispatchError::AlreadyRated(no("A002"))
    );
    // A no-show was not served: nothing to rate.
    run.walk_in('A');
    run.call(1);
    run.ok(Command::NoShow { window: w(1) });
    assert!(matches!(
        run.err(rate("A003", 3, None)),
        DispatchError::WrongTicketState { .. }
    ));
    assert_eq!(
        run.err(rate("A099", 3, None)),
        DispatchError::UnknownTicket(no("A099"))
    );
}

#[test]
fn a_batch_is_one_service_and_one_rating() {
    let mut run = Run::basic();
    run.open(1);
    for _ in 0..4 {
        run.walk_in('A');
    }
    run.walk_in('B');
    run.walk_in('C');
    run.call(1); // A001
    let batch = |with: &[&str], r: Option<u8>| Command::FinishBatch {
        window: w(1),
        with: with.iter().map(|t| no(t)).collect(),
        rating: r.map(rating),
    };
    // Refusals change nothing: another item, a window that does not serve
    // it, the lead itself, a name given twice, a ticket not waiting.
    assert!(matches!(
        run.err(batch(&["A002", "B001"], Some(5))),
        DispatchError::NotInBatch { .. }
    ));
    assert!(matches!(
        run.err(batch(&["A001"], Some(5))),
        DispatchError::NotInBatch { .. }
    ));
    assert!(matches!(
        run.err(batch(&["A002", "A002"], Some(5))),
        DispatchError::NotInBatch { .. }
    ));
    let events = run.ok(batch(&["A002", "A003"], Some(1)));
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::ServedWith { .. } => "with",
            Event::Finished { .. } => "finished",
            Event::Approaching { .. } => "approaching",
            _ => "other",
        })
        .collect();
    assert_eq!(&kinds[..3], ["with", "with", "finished"]);
    assert_eq!(
        run.hall.ticket_state(no("A002")).unwrap(),
        TicketState::Done
    );
    assert_eq!(run.hall.position(no("A004")).unwrap(), Some(0));
    // The batch was rated once, at finishing: its tickets cannot be rated again.
    for t in ["A001", "A002", "A003"] {
        assert_eq!(
            run.err(rate(t, 5, None)),
            DispatchError::AlreadyRated(no("A001"))
        );
    }
    // Replaying the log rebuilds the same hall.
    let mut replayed = Hall::new(run.hall.spec().clone()).unwrap();
    for e in &run.log {
        replayed.replay(e);
    }
    assert_eq!(replayed.dump(), run.hall.dump());
}

#[test]
fn an_unrated_batch_is_rated_through_any_of_its_tickets() {
    let mut run = Run::basic();
    run.open(1);
    run.walk_in('A');
    run.walk_in('A');
    run.call(1);
    run.ok(Command::FinishBatch {
        window: w(1),
        with: vec![no("A002")],
        rating: None,
    });
    let events = run.ok(rate("A002", 2, None));
    assert!(matches!(&events[0], Event::Rated { number, .. } if *number == no("A001")));
    assert_eq!(
        run.err(rate("A001", 2, None)),
        DispatchError::AlreadyRated(no("A001"))
    );
}
