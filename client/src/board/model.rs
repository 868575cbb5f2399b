//! The hall as a display board shows it: the latest calls, every window,
//! every item's line, the next numbers to get ready (请…准备), the latest
//! no-shows (过号), and whether all that is live. Built from the display
//! stream's frames ([`DisplayUpdate`]); pure (time is an argument), so the
//! web page, the terminal board and the tests all read the same state.

use std::collections::VecDeque;

use serde_json::{json, Value};

use hallq_proto::types::Timestamp;
use hallq_proto::views::{BoardLines, HallView, WindowState, WindowView};
use hallq_proto::wire::{CallShown, DisplayUpdate};

/// How many calls a board keeps: the newest one large, the rest below it.
pub const CALLS_SHOWN: usize = 8;

/// Whether the board's numbers are live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not connected yet (just started).
    Connecting,
    /// Subscribed: every change arrives as it happens.
    Live,
    /// The daemon is unreachable or ended the stream; reconnecting. What the
    /// board holds may be stale and must not be shown as live.
    Lost {
        /// When the link was lost.
        since: Timestamp,
        /// Why, for the operator.
        reason: String,
    },
}

/// One call on the board, numbered by the board so the page can tell which
/// calls it has already announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardCall {
    /// The board's own number for the call, increasing.
    pub id: u64,
    /// The call as the daemon sent it.
    pub call: CallShown,
    /// Whether it should be announced: a call that happened while the board
    /// was watching (or while it was reconnecting), not one it only learned
    /// from the first snapshot after starting.
    pub announce: bool,
}

/// What a display board knows of its hall.
#[derive(Debug, Clone)]
pub struct Board {
    hall_name: String,
    seq: Option<u64>,
    view: Option<HallView>,
    /// Newest last.
    calls: VecDeque<BoardCall>,
    next_call_id: u64,
    link: Link,
    updated_at: Timestamp,
    /// The 请…准备 and 过号 lists, once hallqd answered for them (a hallqd
    /// that predates them never does: the page then leaves them out).
    lines: Option<BoardLines>,
}

impl Board {
    /// A board that has not heard from the daemon yet.
    pub fn new(now: Timestamp) -> Board {
        Board {
            hall_name: String::new(),
            seq: None,
            view: None,
            calls: VecDeque::new(),
            next_call_id: 1,
            link: Link::Connecting,
            updated_at: now,
            lines: None,
        }
    }

    /// The 请…准备 and 过号 lists as last read, if hallqd gave them.
    pub fn lines(&self) -> Option<&BoardLines> {
        self.lines.as_ref()
    }

    /// Takes the lists hallqd answered with, unless the board already holds
    /// newer ones (answers may cross). Returns whether anything changed.
    pub fn set_lines(&mut self, lines: BoardLines) -> bool {
        if self.lines.as_ref().is_some_and(|held| held.seq > lines.seq) {
            return false;
        }
        if self.lines.as_ref() == Some(&lines) {
            return false;
        }
        self.lines = Some(lines);
        true
    }

    /// The hall's name, once connected.
    pub fn hall_name(&self) -> &str {
        &self.hall_name
    }

    /// Whether the numbers are live.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The hall as of the last applied frame, if any arrived.
    pub fn view(&self) -> Option<&HallView> {
        self.view.as_ref()
    }

    /// The latest calls, newest first.
    pub fn calls(&self) -> impl Iterator<Item = &BoardCall> {
        self.calls.iter().rev()
    }

    /// The change number of the last applied frame.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// One window, if the hall has it.
    pub fn window(&self, number: u16) -> Option<&WindowView> {
        self.view
            .as_ref()
            .and_then(|v| v.windows.iter().find(|w| w.number.0 == number))
    }

    /// The daemon welcomed the board: remember the hall's name.
    pub fn connected(&mut self, hall_name: &str) {
        hall_name.clone_into(&mut self.hall_name);
    }

    /// The link to the daemon is gone (or could not be made); the board
    /// keeps its numbers only to show them again greyed out, never as live.
    pub fn lost(&mut self, reason: impl Into<String>, now: Timestamp) {
        let reason = reason.into();
        match &mut self.link {
            // Keep the first instant: "lost since 10:32", not since the last retry.
            Link::Lost { reason: r, .. } => *r = reason,
            link => {
                *link = Link::Lost { since: now, reason };
            }
        }
        self.updated_at = now;
    }

    /// Applies one frame of the display stream. Returns whether anything
    /// the board shows changed.
    pub fn apply(&mut self, update: DisplayUpdate, now: Timestamp) -> bool {
        match update {
            DisplayUpdate::Snapshot {
                seq,
                view,
                recent_calls,
            } => {
                self.snapshot(seq, view, recent_calls);
                self.link = Link::Live;
            }
            DisplayUpdate::Change {
                seq,
                calls,
                windows,
                items,
                issuing,
            } => {
                // A change not newer than what we hold is already in it; one
                // before any snapshot cannot be placed.
                let Some(view) = self.view.as_mut() else {
                    return false;
                };
                if self.seq.is_some_and(|held| seq <= held) {
                    return false;
                }
                self.seq = Some(seq);
                for window in windows {
                    match view.windows.iter_mut().find(|w| w.number == window.number) {
                        Some(slot) => *slot = window,
                        None => view.windows.push(window),
                    }
                }
                for (code, waiting) in items {
                    if let Some(item) = view.items.iter_mut().find(|i| i.code == code) {
                        item.waiting = waiting;
                    }
                }
                if let Some(open) = issuing {
                    view.issuing = open;
                }
                for call in calls {
                    self.push_call(call, true);
                }
            }
            DisplayUpdate::Dropped { reason } => {
                self.lost(
                    crate::text::display_dropped(&reason, crate::text::lang()),
                    now,
                );
            }
        }
        self.updated_at = now;
        true
    }

    /// A fresh snapshot: first thing after (re)subscribing. Calls the board
    /// already shows keep their numbers (so they are not announced again);
    /// calls it missed while reconnecting are announced, calls it learns of
    /// in its very first snapshot are not (they happened before it started).
    fn snapshot(&mut self, seq: u64, view: HallView, recent: Vec<CallShown>) {
        let first = self.seq.is_none();
        let newest_known = self.calls.back().map(|c| c.call.at);
        let mut known: VecDeque<BoardCall> = std::mem::take(&mut self.calls);
        for call in recent {
            match known.iter().position(|k| k.call == call) {
                Some(i) => {
                    if let Some(k) = known.remove(i) {
                        self.calls.push_back(k);
                    }
                }
                None => {
                    let missed = !first && newest_known.is_none_or(|at| call.at >= at);
                    self.push_call(call, missed);
                }
            }
        }
        while self.calls.len() > CALLS_SHOWN {
            self.calls.pop_front();
        }
        self.seq = Some(seq);
        self.view = Some(view);
        // Lists read from a hall that has since gone back (a daemon
        // restored elsewhere) would block newer answers: drop them.
        if self.lines.as_ref().is_some_and(|l| l.seq > seq) {
            self.lines = None;
        }
    }

    fn push_call(&mut self, call: CallShown, announce: bool) {
        let id = self.next_call_id;
        self.next_call_id += 1;
        self.calls.push_back(BoardCall { id, call, announce });
        while self.calls.len() > CALLS_SHOWN {
            self.calls.pop_front();
        }
    }

    /// The board as the web page reads it (one JSON object per update).
    pub fn to_json(&self) -> Value {
        let (link, lost_since, reason) = match &self.link {
            Link::Connecting => ("connecting", None, None),
            Link::Live => ("live", None, None),
            Link::Lost { since, reason } => ("lost", Some(since.0), Some(reason.as_str())),
        };
        let calls: Vec<Value> = self
            .calls()
            .map(|c| {
                json!({
                    "id": c.id,
                    "ticket": c.call.ticket.to_string(),
                    "window": c.call.window.0,
                    "text": c.call.announcement,
                    "recall": c.call.recall,
                    "at": c.call.at.0,
                    "announce": c.announce,
                })
            })
            .collect();
        let (windows, items, issuing) = match &self.view {
            Some(view) => (
                view.windows.iter().map(window_json).collect::<Vec<_>>(),
                view.items
                    .iter()
                    .map(|i| {
                        json!({
                            "code": i.code.to_string(),
                            "name": i.name,
                            "waiting": i.waiting.iter().sum::<u32>(),
                            "lanes": i.waiting,
                        })
                    })
                    .collect::<Vec<_>>(),
                view.issuing,
            ),
            None => (Vec::new(), Vec::new(), false),
        };
        let name_of = |code: hallq_proto::types::ItemCode| {
            self.view
                .as_ref()
                .and_then(|v| v.items.iter().find(|i| i.code == code))
                .map_or(String::new(), |i| i.name.clone())
        };
        let (next, no_shows) = match &self.lines {
            Some(lines) => (
                Value::from(
                    lines
                        .next
                        .iter()
                        .map(|n| {
                            json!({
                                "item": n.item.to_string(),
                                "name": name_of(n.item),
                                "tickets": n.tickets.iter().map(ToString::to_string).collect::<Vec<_>>(),
                            })
                        })
                        .collect::<Vec<_>>(),
                ),
                Value::from(
                    lines
                        .no_shows
                        .iter()
                        .map(|n| {
                            json!({
                                "ticket": n.ticket.to_string(),
                                "window": n.window.0,
                                "at": n.at.0,
                            })
                        })
                        .collect::<Vec<_>>(),
                ),
            ),
            None => (Value::Null, Value::Null),
        };
        json!({
            "hall": self.hall_name,
            "link": link,
            "lost_since": lost_since,
            "reason": reason,
            "seq": self.seq,
            "updated_at": self.updated_at.0,
            "issuing": issuing,
            "calls": calls,
            "windows": windows,
            "items": items,
            "next": next,
            "no_shows": no_shows,
        })
    }
}

fn window_json(w: &WindowView) -> Value {
    let (state, reason) = match &w.state {
        WindowState::Open => ("open", None),
        WindowState::Paused(reason) => ("paused", Some(reason.as_str())),
        WindowState::Closed => ("closed", None),
    };
    json!({
        "number": w.number.0,
        "state": state,
        "reason": reason,
        "current": w.current.map(|t| t.to_string()),
        "serving": w.serving,
    })
}

/// How a window's state reads on a board: "暂停服务（午休）", "未开放", …
pub fn window_state_label(w: &WindowView) -> String {
    match (&w.state, &w.current, w.serving) {
        // DB33/T 2036.4 §8.2.2.2: a paused window says so, with the reason.
        (WindowState::Paused(reason), _, _) if reason.is_empty() || reason == "暂停服务" => {
            "暂停服务".into()
        }
        (WindowState::Paused(reason), _, _) => format!("暂停服务（{reason}）"),
        (WindowState::Closed, _, _) => "未开放".into(),
        (WindowState::Open, Some(_), true) => "正在办理".into(),
        (WindowState::Open, Some(_), false) => "请到窗口".into(),
        (WindowState::Open, None, _) => "空闲".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::types::{ItemCode, TicketNo, WindowNo};
    use hallq_proto::views::ItemView;

    const T0: u64 = 1_740_963_600_000;

    fn a() -> ItemCode {
        ItemCode::new('A').unwrap()
    }

    fn window(n: u16, state: WindowState, current: Option<&str>) -> WindowView {
        WindowView {
            number: WindowNo(n),
            state,
            current: current.map(|t| t.parse().unwrap()),
            serving: false,
            staff: None,
            items: vec![a()],
            universal: false,
            fallback: false,
        }
    }

    fn view() -> HallView {
        HallView {
            day: Some(20250303),
            issuing: true,
            windows: vec![
                window(1, WindowState::Open, None),
                window(2, WindowState::Closed, None),
            ],
            items: vec![ItemView {
                code: a(),
                name: "社保".into(),
                waiting: [0, 1, 2],
                open_windows: 1,
                issued_today: 3,
            }],
        }
    }

    fn call(ticket: &str, window: u16, at: u64, recall: bool) -> CallShown {
        let ticket: TicketNo = ticket.parse().unwrap();
        CallShown {
            ticket,
            window: WindowNo(window),
            announcement: format!("请{ticket}号到{window}号窗口办理"),
            recall,
            at: Timestamp(at),
        }
    }

    fn snapshot(seq: u64, calls: Vec<CallShown>) -> DisplayUpdate {
        DisplayUpdate::Snapshot {
            seq,
            view: view(),
            recent_calls: calls,
        }
    }

    fn change(seq: u64, calls: Vec<CallShown>, windows: Vec<WindowView>) -> DisplayUpdate {
        DisplayUpdate::Change {
            seq,
            calls,
            windows,
            items: vec![(a(), [0, 0, 1])],
            issuing: None,
        }
    }

    #[test]
    fn a_change_updates_windows_lines_and_calls() {
        let mut board = Board::new(Timestamp(T0));
        assert_eq!(board.link(), &Link::Connecting);
        board.apply(snapshot(5, vec![call("A001", 1, T0, false)]), Timestamp(T0));
        assert_eq!(board.link(), &Link::Live);
        // The first snapshot's calls happened before the board started.
        assert!(!board.calls().next().unwrap().announce);

        let called = window(1, WindowState::Open, Some("A002"));
        assert!(board.apply(
            change(6, vec![call("A002", 1, T0 + 1, false)], vec![called]),
            Timestamp(T0 + 1)
        ));
        let newest = board.calls().next().unwrap();
        assert_eq!(newest.call.ticket.to_string(), "A002");
        assert!(newest.announce);
        assert_eq!(
            board.window(1).unwrap().current.unwrap().to_string(),
            "A002"
        );
        let json = board.to_json();
        assert_eq!(json["items"][0]["waiting"], 1);
        assert_eq!(json["calls"][0]["text"], "请A002号到1号窗口办理");
        assert_eq!(json["windows"][0]["current"], "A002");
    }

    #[test]
    fn stale_changes_are_ignored() {
        let mut board = Board::new(Timestamp(T0));
        // Before any snapshot there is nothing to apply a change to.
        assert!(!board.apply(change(3, vec![], vec![]), Timestamp(T0)));
        board.apply(snapshot(5, vec![]), Timestamp(T0));
        assert!(!board.apply(
            change(5, vec![call("A009", 1, T0, false)], vec![]),
            Timestamp(T0)
        ));
        assert_eq!(board.calls().count(), 0);
    }

    #[test]
    fn a_recall_is_a_new_call_to_announce() {
        let mut board = Board::new(Timestamp(T0));
        board.apply(snapshot(1, vec![]), Timestamp(T0));
        board.apply(
            change(2, vec![call("A001", 1, T0, false)], vec![]),
            Timestamp(T0),
        );
        board.apply(
            change(3, vec![call("A001", 1, T0 + 5, true)], vec![]),
            Timestamp(T0),
        );
        let ids: Vec<u64> = board.calls().map(|c| c.id).collect();
        assert_eq!(ids, vec![2, 1]);
        assert!(board.calls().all(|c| c.announce));
        assert_eq!(board.to_json()["calls"][0]["recall"], true);
    }

    #[test]
    fn losing_the_daemon_is_shown_and_a_resnapshot_keeps_known_calls() {
        let mut board = Board::new(Timestamp(T0));
        board.apply(snapshot(1, vec![call("A001", 1, T0, false)]), Timestamp(T0));
        board.apply(
            DisplayUpdate::Dropped {
                reason: "hallqd is shutting down".into(),
            },
            Timestamp(T0 + 10),
        );
        board.lost("connection refused", Timestamp(T0 + 20));
        assert_eq!(
            board.link(),
            &Link::Lost {
                since: Timestamp(T0 + 10),
                reason: "connection refused".into()
            }
        );
        assert_eq!(board.to_json()["link"], "lost");

        // Back: A001 keeps its id (no second announcement), A002 happened
        // while the board was away and is announced.
        board.apply(
            snapshot(
                4,
                vec![call("A001", 1, T0, false), call("A002", 1, T0 + 15, false)],
            ),
            Timestamp(T0 + 30),
        );
        assert_eq!(board.link(), &Link::Live);
        let calls: Vec<(u64, String, bool)> = board
            .calls()
            .map(|c| (c.id, c.call.ticket.to_string(), c.announce))
            .collect();
        assert_eq!(
            calls,
            vec![(2, "A002".into(), true), (1, "A001".into(), false)]
        );
    }

    #[test]
    fn the_board_keeps_only_the_latest_calls() {
        let mut board = Board::new(Timestamp(T0));
        board.apply(snapshot(1, vec![]), Timestamp(T0));
        for n in 1..=20u32 {
            board.apply(
                change(
                    u64::from(n) + 1,
                    vec![call(&format!("A{n:03}"), 1, T0, false)],
                    vec![],
                ),
                Timestamp(T0),
            );
        }
        assert_eq!(board.calls().count(), CALLS_SHOWN);
        assert_eq!(
            board.calls().next().unwrap().call.ticket.to_string(),
            "A020"
        );
    }

    #[test]
    fn the_lists_keep_the_newest_answer_and_reach_the_page() {
        use hallq_proto::views::{BoardLines, NextUp, NoShowShown};
        let mut board = Board::new(Timestamp(T0));
        board.apply(snapshot(5, vec![]), Timestamp(T0));
        // Before hallqd answers (or with one that cannot): no lists at all.
        assert_eq!(board.to_json()["next"], Value::Null);
        let lines = |seq: u64, next: &str| BoardLines {
            seq,
            next: vec![NextUp {
                item: a(),
                tickets: vec![next.parse().unwrap()],
            }],
            no_shows: vec![NoShowShown {
                ticket: "A001".parse().unwrap(),
                window: WindowNo(2),
                at: Timestamp(T0),
            }],
        };
        assert!(board.set_lines(lines(6, "A003")));
        // An answer that crossed a newer one is dropped; the same one changes nothing.
        assert!(!board.set_lines(lines(5, "A002")));
        assert!(!board.set_lines(lines(6, "A003")));
        let json = board.to_json();
        assert_eq!(json["next"][0]["item"], "A");
        assert_eq!(json["next"][0]["name"], "社保");
        assert_eq!(json["next"][0]["tickets"][0], "A003");
        assert_eq!(json["no_shows"][0]["ticket"], "A001");
        assert_eq!(json["no_shows"][0]["window"], 2);
        // A hall restored to an older change number: the old lists go.
        board.apply(snapshot(3, vec![]), Timestamp(T0));
        assert!(board.lines().is_none());
        assert!(board.set_lines(lines(3, "A004")));
    }

    #[test]
    fn a_paused_window_keeps_its_visitor_in_the_json() {
        let mut board = Board::new(Timestamp(T0));
        board.apply(snapshot(1, vec![]), Timestamp(T0));
        let paused = window(1, WindowState::Paused("午休".into()), Some("A007"));
        board.apply(change(2, vec![], vec![paused]), Timestamp(T0));
        let json = board.to_json();
        assert_eq!(json["windows"][0]["state"], "paused");
        assert_eq!(json["windows"][0]["reason"], "午休");
        assert_eq!(json["windows"][0]["current"], "A007");
    }

    #[test]
    fn window_states_read_as_a_hall_expects() {
        let paused = window(1, WindowState::Paused("午休".into()), None);
        assert_eq!(window_state_label(&paused), "暂停服务（午休）");
        let paused = window(1, WindowState::Paused("暂停服务".into()), None);
        assert_eq!(window_state_label(&paused), "暂停服务");
        let closed = window(2, WindowState::Closed, None);
        assert_eq!(window_state_label(&closed), "未开放");
        let mut serving = window(3, WindowState::Open, Some("B002"));
        serving.serving = true;
        assert_eq!(window_state_label(&serving), "正在办理");
    }
}
