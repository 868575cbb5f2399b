//! A window's own state: open, paused, closed, and who is logged in at it
//! (AB岗). None of these takes a ticket from a line; opening and resuming
//! only raise the §7.3.5 thresholds of the lines the window serves.

use hallq_proto::types::{Post, StaffId, Timestamp, WindowNo};
use hallq_proto::views::WindowState;

use crate::{DispatchError, Event, Hall, Touched, MAX_REASON_CHARS};

impl Hall {
    /// [`Command::OpenWindow`](crate::Command::OpenWindow). O(I + k log n).
    pub(super) fn decide_open_window(
        &self,
        window: WindowNo,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        self.require_day()?;
        let w = self.window_idx(window)?;
        match self.windows[w].state {
            WindowState::Closed => {
                self.touch_window(w, touched);
                Ok(Event::WindowOpened { window, at })
            }
            WindowState::Open => Err(DispatchError::WindowAlready {
                window,
                state: "open",
            }),
            // Resuming is its own command: the display should show
            // the pause ending, not a window opening.
            WindowState::Paused(_) => Err(DispatchError::WindowAlready {
                window,
                state: "open (paused; resume it)",
            }),
        }
    }

    /// [`Command::Pause`](crate::Command::Pause). O(I).
    pub(super) fn decide_pause(
        &self,
        window: WindowNo,
        reason: String,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let w = self.window_idx(window)?;
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(DispatchError::TooLong {
                field: "pause reason",
                max: MAX_REASON_CHARS,
            });
        }
        match self.windows[w].state {
            WindowState::Open => Ok(Event::WindowPaused { window, reason, at }),
            WindowState::Paused(_) => Err(DispatchError::WindowAlready {
                window,
                state: "paused",
            }),
            WindowState::Closed => Err(DispatchError::WindowNotOpen {
                window,
                state: "closed",
            }),
        }
    }

    /// [`Command::Resume`](crate::Command::Resume). O(I + k log n).
    pub(super) fn decide_resume(
        &self,
        window: WindowNo,
        at: Timestamp,
        touched: &mut Touched,
    ) -> Result<Event, DispatchError> {
        let w = self.window_idx(window)?;
        match self.windows[w].state {
            WindowState::Paused(_) => {
                self.touch_window(w, touched);
                Ok(Event::WindowResumed { window, at })
            }
            WindowState::Open => Err(DispatchError::WindowAlready {
                window,
                state: "open",
            }),
            WindowState::Closed => Err(DispatchError::WindowNotOpen {
                window,
                state: "closed",
            }),
        }
    }

    /// [`Command::CloseWindow`](crate::Command::CloseWindow). O(I).
    pub(super) fn decide_close_window(
        &self,
        window: WindowNo,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let w = self.window_idx(window)?;
        if let Some(current) = self.windows[w].current {
            return Err(DispatchError::WindowBusy {
                window,
                ticket: self.ticket(current).number,
            });
        }
        if self.windows[w].state == WindowState::Closed {
            return Err(DispatchError::WindowAlready {
                window,
                state: "closed",
            });
        }
        Ok(Event::WindowClosed { window, at })
    }

    /// [`Command::LogIn`](crate::Command::LogIn). O(1).
    pub(super) fn decide_log_in(
        &self,
        window: WindowNo,
        staff: StaffId,
        post: Post,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let w = self.window_idx(window)?;
        if let Some((who, _)) = &self.windows[w].staff {
            return Err(DispatchError::StaffAlreadyLoggedIn {
                window,
                staff: who.to_string(),
            });
        }
        Ok(Event::StaffLoggedIn {
            window,
            staff,
            post,
            at,
        })
    }

    /// [`Command::LogOut`](crate::Command::LogOut). O(1).
    pub(super) fn decide_log_out(
        &self,
        window: WindowNo,
        at: Timestamp,
    ) -> Result<Event, DispatchError> {
        let w = self.window_idx(window)?;
        match &self.windows[w].staff {
            Some((staff, _)) => Ok(Event::StaffLoggedOut {
                window,
                staff: staff.clone(),
                at,
            }),
            None => Err(DispatchError::NoStaff(window)),
        }
    }
}
