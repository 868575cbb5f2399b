//! The visitor's own actions from their phone (issue 18): stepping back
//! once ("I need more time") and giving the ticket up ("I'm leaving"),
//! and what the phone page reads ([`Hall::ticket_follow`]).

use super::*;

fn step_back(ticket: &str, places: u32) -> Command {
    Command::StepBack {
        ticket: no(ticket),
        places,
    }
}

fn leave(ticket: &str) -> Command {
    Command::Leave { ticket: no(ticket) }
}

fn replayed(run: &Run) -> Hall {
    let mut fresh = Hall::new(run.hall.spec().clone()).unwrap();
    for e in &run.log {
        fresh.replay(e);
    }
    fresh
}

#[test]
fn a_ticket_steps_back_its_places_once_and_replays_the_same() {
    let mut r = Run::new(HallSpec::new(vec![item('A', 60)], vec![window(1, "A")]));
    r.open(1);
    for _ in 0..6 {
        r.walk_in('A');
    }
    let events = r.ok(step_back("A002", 3));
    assert!(
        matches!(
            events[0],
            Event::SteppedBack {
                position: 4,
                places: 3,
                ..
            }
        ),
        "{events:?}"
    );
    assert_eq!(r.hall.position(no("A002")).unwrap(), Some(4));
    // Once per ticket.
    assert_eq!(
        r.err(step_back("A002", 3)),
        DispatchError::AlreadySteppedBack(no("A002"))
    );
    // Near the end of the line it goes last.
    let events = r.ok(step_back("A005", 3));
    assert!(matches!(events[0], Event::SteppedBack { position: 5, .. }));
    assert_eq!(replayed(&r).dump(), r.hall.dump());
    let order: Vec<_> = (0..6).map(|_| r.serve_next(1)).collect();
    assert_eq!(
        order,
        ["A001", "A003", "A004", "A002", "A006", "A005"].map(no)
    );
    let follow = r.hall.ticket_follow(no("A002"), "hall", 3).unwrap();
    assert!(follow.stepped_back && follow.can_rate);
    assert_eq!(follow.served_at, Some(w(1)));
}

#[test]
fn only_a_waiting_ticket_steps_back() {
    let mut r = Run::new(HallSpec::new(vec![item('A', 60)], vec![window(1, "A")]));
    r.open(1);
    r.walk_in('A');
    r.walk_in('A');
    r.call(1);
    assert_eq!(r.err(step_back("A001", 3)).code(), "wrong_ticket_state");
    assert_eq!(r.err(step_back("A009", 3)).code(), "unknown_ticket");
}

#[test]
fn leaving_takes_a_waiting_ticket_out_of_line() {
    let mut r = Run::new(HallSpec::new(vec![item('A', 60)], vec![window(1, "A")]));
    r.open(1);
    for _ in 0..3 {
        r.walk_in('A');
    }
    r.ok(leave("A001"));
    assert_eq!(r.hall.ticket_state(no("A001")).unwrap(), TicketState::Left);
    assert_eq!(r.hall.position(no("A003")).unwrap(), Some(1));
    assert_eq!(r.err(leave("A001")).code(), "wrong_ticket_state");
    assert_eq!(r.err(step_back("A001", 1)).code(), "wrong_ticket_state");
    assert_eq!(replayed(&r).dump(), r.hall.dump());
    assert_eq!(r.serve_next(1), no("A002"));
}

#[test]
fn leaving_when_called_frees_the_window() {
    let mut r = Run::new(HallSpec::new(vec![item('A', 60)], vec![window(1, "A")]));
    r.open(1);
    r.walk_in('A');
    r.walk_in('A');
    r.call(1);
    r.ok(leave("A001"));
    assert_eq!(r.hall.window_view_of(w(1)).unwrap().current, None);
    assert_eq!(replayed(&r).dump(), r.hall.dump());
    assert_eq!(r.call(1), no("A002"));
    // Being served, it can no longer be given up from the phone.
    r.ok(Command::Start { window: w(1) });
    assert_eq!(r.err(leave("A002")).code(), "wrong_ticket_state");
}

#[test]
fn the_phone_page_sees_position_wait_and_reminder() {
    let mut r = Run::new(HallSpec::new(vec![item('A', 60)], vec![window(1, "A")]));
    r.open(1);
    for _ in 0..4 {
        r.walk_in('A');
    }
    let f = r.hall.ticket_follow(no("A004"), "政务服务中心", 3).unwrap();
    assert_eq!(f.state, TicketState::Waiting);
    assert_eq!((f.position, f.eta_secs), (Some(3), Some(180)));
    assert_eq!(f.windows, vec![w(1)]);
    assert!(!f.approaching && !f.can_rate && !f.stepped_back);
    assert_eq!(f.step_back_places, 3);
    r.serve_next(1);
    r.serve_next(1);
    let f = r.hall.ticket_follow(no("A004"), "h", 3).unwrap();
    assert!(f.approaching, "{f:?}");
}

#[test]
fn the_window_tablet_sees_the_service_finished_last_there() {
    let mut r = Run::new(HallSpec::new(vec![item('A', 60)], vec![window(1, "A")]));
    r.open(1);
    for _ in 0..3 {
        r.walk_in('A');
    }
    assert_eq!(r.hall.last_finished_at(w(1)).unwrap(), None);
    r.serve_next(1);
    assert_eq!(r.hall.last_finished_at(w(1)).unwrap(), Some(no("A001")));
    r.call(1);
    r.ok(Command::FinishBatch {
        window: w(1),
        with: vec![no("A003")],
        rating: None,
    });
    // A batch is one service: its lead.
    assert_eq!(r.hall.last_finished_at(w(1)).unwrap(), Some(no("A002")));
    assert_eq!(r.err_code_of_unknown_window(), "unknown_window");
    assert_eq!(
        replayed(&r).last_finished_at(w(1)).unwrap(),
        Some(no("A002"))
    );
}

impl Run {
    fn err_code_of_unknown_window(&self) -> String {
        self.hall
            .last_finished_at(w(9))
            .unwrap_err()
            .code()
            .to_string()
    }
}
