//! Display updates (DB33/T 2036.4 §6.5): which calls to show and announce,
//! and which windows and lines changed; and the latest no-shows (过号) a
//! board lists.

use std::collections::{BTreeSet, VecDeque};

use hallq_proto::types::{TicketNo, Timestamp, WindowNo};
use hallq_proto::views::NoShowShown;
use hallq_proto::wire::{CallShown, DisplayUpdate};

use hallq_core::{Event, Hall, TransferTarget};

/// How many recent calls a display's snapshot carries.
pub const RECENT_CALLS: usize = 10;

/// The text announced in the hall for a call (§7.3.6).
pub fn announcement(ticket: TicketNo, window: WindowNo) -> String {
    format!("请{ticket}号到{window}号窗口办理")
}

/// The latest calls, for a new display's snapshot.
#[derive(Debug, Default, Clone)]
pub struct RecentCalls(VecDeque<CallShown>);

impl RecentCalls {
    /// The calls, oldest first.
    pub fn to_vec(&self) -> Vec<CallShown> {
        self.0.iter().cloned().collect()
    }

    fn push(&mut self, call: CallShown) {
        if self.0.len() == RECENT_CALLS {
            self.0.pop_front();
        }
        self.0.push_back(call);
    }
}

/// How many no-shows a board lists (the latest; older ones are at the
/// help desk's `hallq status`).
pub const RECENT_NO_SHOWS: usize = 12;

/// How many of each line's next tickets a board lists (请…准备).
pub const NEXT_PER_ITEM: usize = 3;

/// Today's latest no-shows that were not reinstated, for the board's 过号
/// list: a visitor who missed the call finds their number there.
#[derive(Debug, Default, Clone)]
pub struct RecentNoShows(VecDeque<NoShowShown>);

impl RecentNoShows {
    /// The no-shows, newest first.
    pub fn to_vec(&self) -> Vec<NoShowShown> {
        self.0.iter().rev().copied().collect()
    }

    /// Follows `events`: a no-show joins the list, a reinstated ticket
    /// leaves it (it is back in line), a new business day empties it.
    pub fn absorb(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::NoShow {
                    number, window, at, ..
                } => {
                    self.0.retain(|n| n.ticket != *number);
                    if self.0.len() == RECENT_NO_SHOWS {
                        self.0.pop_front();
                    }
                    self.0.push_back(NoShowShown {
                        ticket: *number,
                        window: *window,
                        at: *at,
                    });
                }
                Event::Reinstated { number, .. } => self.0.retain(|n| n.ticket != *number),
                Event::DayBegun { .. } => self.0.clear(),
                _ => {}
            }
        }
    }
}

/// What one command's `events` change on the displays, read from `hall`
/// right after they were applied; `None` if displays see no difference.
pub fn change(
    seq: u64,
    events: &[Event],
    hall: &Hall,
    recent: &mut RecentCalls,
) -> Option<DisplayUpdate> {
    let mut calls = Vec::new();
    let mut windows = BTreeSet::new();
    let mut lines_changed = false;
    let mut issuing_changed = false;
    let mut all_windows = false;
    let mut call = |ticket: TicketNo, window: WindowNo, recall: bool, at: Timestamp| {
        let shown = CallShown {
            ticket,
            window,
            announcement: announcement(ticket, window),
            recall,
            at,
        };
        recent.push(shown.clone());
        calls.push(shown);
    };
    for event in events {
        match event {
            Event::DayBegun { .. } | Event::Reconfigured { .. } => {
                all_windows = true;
                lines_changed = true;
                issuing_changed = true;
            }
            Event::IssuingClosed { .. } | Event::IssuingOpened { .. } => issuing_changed = true,
            Event::Issued { .. } | Event::Reinstated { .. } | Event::SteppedBack { .. } => {
                lines_changed = true
            }
            // A visitor who gave up leaves their line, or frees the window
            // that had called them.
            Event::Left { called_to, .. } => {
                lines_changed = true;
                if let Some(window) = called_to {
                    windows.insert(*window);
                }
            }
            // Neither changes what a board shows.
            Event::Approaching { .. } | Event::PhoneAttached { .. } => {}
            // A batch's companions leave their line; ratings show nowhere.
            Event::ServedWith { .. } => lines_changed = true,
            Event::Rated { .. } => {}
            // Work orders and appeals are the manager's, not the board's.
            Event::WorkOrderOpened { .. }
            | Event::WorkOrderCalledBack { .. }
            | Event::WorkOrderClosed { .. }
            | Event::RatingAppealed { .. } => {}
            // An alert shows on no board, but a console following the
            // display stream must hear of it within a second: the change
            // carries the (unchanged) issuing flag, so it is sent at all.
            Event::AlertRaised { .. } | Event::AlertCleared { .. } => issuing_changed = true,
            // Bookings are not on the hall's screens; a check-in's ticket
            // shows through its `Issued`.
            Event::Booked { .. }
            | Event::BookingCancelled { .. }
            | Event::CheckedIn { .. }
            | Event::BookingForfeited { .. }
            | Event::SlotsAdjusted { .. } => {}
            Event::Called {
                number, window, at, ..
            } => {
                call(*number, *window, false, *at);
                windows.insert(*window);
                lines_changed = true;
            }
            Event::Recalled {
                number, window, at, ..
            } => call(*number, *window, true, *at),
            Event::Started { window, .. }
            | Event::Finished { window, .. }
            | Event::NoShow { window, .. }
            | Event::WindowOpened { window, .. }
            | Event::WindowClosed { window, .. }
            | Event::WindowPaused { window, .. }
            | Event::WindowResumed { window, .. }
            | Event::StaffLoggedIn { window, .. }
            | Event::StaffLoggedOut { window, .. } => {
                windows.insert(*window);
            }
            Event::Transferred { from, to, .. } => {
                windows.insert(*from);
                if let TransferTarget::Window(w) = to {
                    windows.insert(*w);
                }
                lines_changed = true;
            }
        }
    }
    if calls.is_empty() && windows.is_empty() && !lines_changed && !issuing_changed && !all_windows
    {
        return None;
    }
    let view = hall.view();
    Some(DisplayUpdate::Change {
        seq,
        calls,
        windows: view
            .windows
            .into_iter()
            .filter(|w| all_windows || windows.contains(&w.number))
            .collect(),
        items: if lines_changed {
            view.items.iter().map(|i| (i.code, i.waiting)).collect()
        } else {
            Vec::new()
        },
        issuing: issuing_changed.then_some(view.issuing),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::types::TicketId;

    fn no_show(n: &str, window: u16, at: u64) -> Event {
        Event::NoShow {
            ticket: TicketId(1),
            number: n.parse().unwrap(),
            window: WindowNo(window),
            at: Timestamp(at),
        }
    }

    #[test]
    fn no_shows_are_listed_newest_first_until_reinstated_or_the_next_day() {
        let mut list = RecentNoShows::default();
        list.absorb(&[no_show("A003", 2, 10), no_show("B001", 5, 20)]);
        let shown: Vec<String> = list.to_vec().iter().map(|n| n.ticket.to_string()).collect();
        assert_eq!(shown, ["B001", "A003"]);
        assert_eq!(list.to_vec()[1].window, WindowNo(2));
        list.absorb(&[Event::Reinstated {
            ticket: TicketId(1),
            number: "A003".parse().unwrap(),
            position: 3,
            at: Timestamp(30),
        }]);
        assert_eq!(list.to_vec().len(), 1);
        // Only the latest are kept.
        for n in 1..=20u16 {
            list.absorb(&[no_show(&format!("C{n:03}"), 1, 40 + u64::from(n))]);
        }
        let all = list.to_vec();
        assert_eq!(all.len(), RECENT_NO_SHOWS);
        assert_eq!(all[0].ticket.to_string(), "C020");
        list.absorb(&[Event::DayBegun {
            day: 20261203,
            expired: 0,
            at: Timestamp(100),
        }]);
        assert!(list.to_vec().is_empty());
    }
}
