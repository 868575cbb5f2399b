//! The hall floor's day so far, for the manager's console and the alert
//! rules (issue 21): for each window, since when it is in its state, since
//! when its staff changed, since when its current ticket was called or
//! started, what it served today and how long it was idle and paused; for
//! each item, what it served today.
//!
//! Kept from the events as they are applied (live and on replay alike), so
//! a restart rebuilds the same figures, and read with an injected `now`:
//! a span still running counts up to `now`. A new business day starts
//! every figure from zero. Kept apart from the windows themselves, so a
//! reconfiguration (which rebuilds them) does not reset the day.

use std::collections::BTreeMap;

use hallq_proto::types::{ItemCode, Timestamp, WindowNo};
use hallq_proto::views::WindowState;

use crate::{Event, Hall};

/// One window's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDay {
    /// In its current state (open, paused, closed) since.
    pub state_since: Timestamp,
    /// Staff logged in or out last at.
    pub staff_since: Timestamp,
    /// The current ticket called, or its service started, at.
    pub current_since: Option<Timestamp>,
    /// Services finished today (batch companions included).
    pub served: u32,
    /// Idle (open with no ticket) time of finished spans, ms.
    idle_ms: u64,
    /// Idle since, while idle.
    pub idle_since: Option<Timestamp>,
    /// Paused time of finished spans, ms.
    paused_ms: u64,
    /// Paused since, while paused.
    paused_since: Option<Timestamp>,
}

impl Default for WindowDay {
    fn default() -> Self {
        WindowDay {
            state_since: Timestamp(0),
            staff_since: Timestamp(0),
            current_since: None,
            served: 0,
            idle_ms: 0,
            idle_since: None,
            paused_ms: 0,
            paused_since: None,
        }
    }
}

impl WindowDay {
    /// Seconds idle today, up to `now`.
    pub fn idle_secs(&self, now: Timestamp) -> u64 {
        (self.idle_ms + self.idle_since.map_or(0, |s| now.0.saturating_sub(s.0))) / 1000
    }

    /// Seconds paused today, up to `now`.
    pub fn paused_secs(&self, now: Timestamp) -> u64 {
        (self.paused_ms + self.paused_since.map_or(0, |s| now.0.saturating_sub(s.0))) / 1000
    }
}

/// The floor's day: every window's and item's figures.
#[derive(Debug, Clone)]
pub(crate) struct Floor {
    /// When the business day began.
    pub(crate) day_start: Timestamp,
    pub(crate) windows: BTreeMap<WindowNo, WindowDay>,
    /// Services finished today per item, by `ItemCode::index()`.
    pub(crate) served: [u32; ItemCode::COUNT],
}

impl Default for Floor {
    fn default() -> Self {
        Floor {
            day_start: Timestamp(0),
            windows: BTreeMap::new(),
            served: [0; ItemCode::COUNT],
        }
    }
}

/// The window an event changes, if one.
fn window_of(event: &Event) -> Option<WindowNo> {
    match event {
        Event::Called { window, .. }
        | Event::Started { window, .. }
        | Event::Finished { window, .. }
        | Event::NoShow { window, .. }
        | Event::WindowOpened { window, .. }
        | Event::WindowClosed { window, .. }
        | Event::WindowPaused { window, .. }
        | Event::WindowResumed { window, .. }
        | Event::StaffLoggedIn { window, .. }
        | Event::StaffLoggedOut { window, .. }
        | Event::ServedWith { window, .. } => Some(*window),
        Event::Transferred { from, .. } => Some(*from),
        Event::Left { called_to, .. } => *called_to,
        _ => None,
    }
}

/// A window state's kind, ignoring a pause's reason.
fn kind(state: &WindowState) -> u8 {
    match state {
        WindowState::Closed => 0,
        WindowState::Open => 1,
        WindowState::Paused(_) => 2,
    }
}

impl Hall {
    /// Updates the floor's day after `event` was applied; `before` is the
    /// window's state before it.
    pub(crate) fn track_floor(&mut self, event: &Event, before: Option<WindowState>) {
        let at = event.at();
        if let Event::DayBegun { .. } = event {
            self.floor = Floor {
                day_start: at,
                windows: self
                    .windows
                    .iter()
                    .map(|w| {
                        (
                            w.spec.number,
                            WindowDay {
                                state_since: at,
                                staff_since: at,
                                ..WindowDay::default()
                            },
                        )
                    })
                    .collect(),
                served: [0; ItemCode::COUNT],
            };
            return;
        }
        match event {
            Event::Finished { ticket, .. } | Event::ServedWith { ticket, .. } => {
                if let Some(item) = self.item_of(*ticket) {
                    self.floor.served[item.index()] += 1;
                }
            }
            _ => {}
        }
        let Some(number) = window_of(event) else {
            return;
        };
        let Ok(w) = self.window_idx(number) else {
            return;
        };
        let (state, has_ticket) = (
            self.windows[w].state.clone(),
            self.windows[w].current.is_some(),
        );
        let day_start = self.floor.day_start;
        let d = self.floor.windows.entry(number).or_insert(WindowDay {
            state_since: day_start,
            staff_since: day_start,
            ..WindowDay::default()
        });
        match event {
            Event::Called { .. } | Event::Started { .. } => d.current_since = Some(at),
            Event::Finished { .. } => d.served += 1,
            Event::ServedWith { .. } => d.served += 1,
            Event::StaffLoggedIn { .. } | Event::StaffLoggedOut { .. } => d.staff_since = at,
            _ => {}
        }
        if !has_ticket {
            d.current_since = None;
        }
        if before.as_ref().map(kind) != Some(kind(&state)) {
            d.state_since = at;
        }
        // Close the running spans at `at`, then open what holds now.
        if let Some(since) = d.idle_since.take() {
            d.idle_ms += at.0.saturating_sub(since.0);
        }
        if let Some(since) = d.paused_since.take() {
            d.paused_ms += at.0.saturating_sub(since.0);
        }
        match state {
            WindowState::Open if !has_ticket => d.idle_since = Some(at),
            WindowState::Paused(_) => d.paused_since = Some(at),
            _ => {}
        }
    }

    /// The state of window `number` before an event, for [`Hall::track_floor`].
    pub(crate) fn floor_before(&self, event: &Event) -> Option<WindowState> {
        let number = window_of(event)?;
        let w = self.window_idx(number).ok()?;
        Some(self.windows[w].state.clone())
    }

    /// Window `number`'s day so far.
    pub fn window_day(&self, number: WindowNo) -> WindowDay {
        self.floor
            .windows
            .get(&number)
            .copied()
            .unwrap_or(WindowDay {
                state_since: self.floor.day_start,
                staff_since: self.floor.day_start,
                ..WindowDay::default()
            })
    }

    /// Services of `item` finished today.
    pub fn served_today(&self, item: ItemCode) -> u32 {
        self.floor.served[item.index()]
    }
}
