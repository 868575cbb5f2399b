//! The board in a terminal (`hallq board --tui`), for a quick look over
//! SSH: the latest calls, every window, every line. Drawn from the same
//! [`Board`] as the web page, and like it, says loudly when the numbers are
//! not live.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};
use ratatui::Frame;
use tokio::sync::watch;

use super::model::{window_state_label, Board, Link};
use super::{feed, now, BoardError, Hallqd};
use crate::screen::clock;
use hallq_proto::types::Timestamp;
use hallq_proto::views::WindowState;

/// Draws `board` as of `now` on the whole frame.
pub fn draw(frame: &mut Frame, board: &Board, now: Timestamp) {
    let live = *board.link() == Link::Live;
    let [head, banner, body, items] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(if live { 0 } else { 2 }),
        Constraint::Min(6),
        Constraint::Length(3),
    ])
    .areas(frame.area());

    let status = if live {
        Span::styled("● 实时", Style::new().fg(Color::Green))
    } else {
        Span::styled("● 连接中断", Style::new().fg(Color::Red).bold())
    };
    let name = if board.hall_name().is_empty() {
        "叫号显示屏"
    } else {
        board.hall_name()
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(name, Style::new().bold()),
            Span::raw("  "),
            status,
            Span::raw(format!("  {}", clock(now))),
        ])),
        head,
    );
    if !live {
        frame.render_widget(
            Paragraph::new(lost_text(board.link()))
                .style(Style::new().fg(Color::White).bg(Color::Red).bold())
                .wrap(Wrap { trim: true }),
            banner,
        );
    }
    // Stale numbers are greyed out, never shown in the live colours.
    let dim = |style: Style| {
        if live {
            style
        } else {
            Style::new().fg(Color::DarkGray)
        }
    };

    let [calls, windows] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    draw_calls(frame, board, calls, &dim);
    draw_windows(frame, board, windows, &dim);

    let line: Vec<Span> = board
        .view()
        .map(|v| {
            v.items
                .iter()
                .flat_map(|i| {
                    [
                        Span::raw(format!("{}（{}）等候 ", i.name, i.code)),
                        Span::styled(
                            i.waiting.iter().sum::<u32>().to_string(),
                            dim(Style::new().fg(Color::Yellow).bold()),
                        ),
                        Span::raw(" 人   "),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let mut title = " 等候人数 ".to_owned();
    if board.view().is_some_and(|v| !v.issuing) {
        title.push_str("· 今日已停止取号 ");
    }
    frame.render_widget(
        Paragraph::new(Line::from(line))
            .wrap(Wrap { trim: true })
            .block(Block::new().borders(Borders::ALL).title(title)),
        items,
    );
}

fn lost_text(link: &Link) -> String {
    match link {
        Link::Lost { since, reason } => format!(
            "与叫号系统的连接已中断（自 {} 起），正在重新连接；以下号码不是实时的。{reason}",
            clock(*since)
        ),
        _ => "正在连接叫号系统…".into(),
    }
}

fn draw_calls(frame: &mut Frame, board: &Board, area: Rect, dim: &dyn Fn(Style) -> Style) {
    let mut lines = Vec::new();
    for (n, c) in board.calls().enumerate() {
        let recall = if c.call.recall { "（重呼）" } else { "" };
        if n == 0 {
            let newest = dim(Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD));
            lines.push(Line::styled(
                format!(" {} → {}号窗口 {recall}", c.call.ticket, c.call.window),
                newest,
            ));
            lines.push(Line::styled(c.call.announcement.clone(), dim(Style::new())));
            lines.push(Line::from(""));
        } else {
            lines.push(Line::styled(
                format!(" {} → {}号窗口 {recall}", c.call.ticket, c.call.window),
                dim(Style::new().bold()),
            ));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from("等待叫号"));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(" 叫号 ")),
        area,
    );
}

fn draw_windows(frame: &mut Frame, board: &Board, area: Rect, dim: &dyn Fn(Style) -> Style) {
    let rows = board.view().into_iter().flat_map(|v| &v.windows).map(|w| {
        let color = match (&w.state, w.current, w.serving) {
            (WindowState::Paused(_), _, _) => Color::Red,
            (WindowState::Closed, _, _) => Color::DarkGray,
            (WindowState::Open, Some(_), true) => Color::Green,
            (WindowState::Open, Some(_), false) => Color::Yellow,
            (WindowState::Open, None, _) => Color::Gray,
        };
        Row::new(vec![
            format!("{}号", w.number),
            w.current.map_or("—".into(), |t| t.to_string()),
            window_state_label(w),
        ])
        .style(dim(Style::new().fg(color)))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Min(8),
        ],
    )
    .header(Row::new(vec!["窗口", "号码", "状态"]).style(Style::new().bold()))
    .block(Block::new().borders(Borders::ALL).title(" 窗口 "));
    frame.render_widget(table, area);
}

/// Runs the terminal board until `q`, Esc or Ctrl-C.
pub async fn run(hallqd: &Hallqd) -> Result<(), BoardError> {
    let (sender, mut board) = watch::channel(Board::new(now()));
    // The screen says the link is lost; a stderr line would cover its header.
    feed::keep_off_stderr();
    let feed = feed::run(hallqd, sender);
    tokio::pin!(feed);
    let mut terminal = ratatui::try_init().inspect_err(|_| ratatui::restore())?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut keys = crate::screen::key_reader(stop.clone());
    // The clock and "lost since" tick even when nothing changes.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        if let Err(e) = terminal.draw(|frame| draw(frame, &board.borrow(), now())) {
            break Err(e.into());
        }
        tokio::select! {
            refused = &mut feed => break Err(refused.into()),
            _ = board.changed() => {}
            key = keys.recv() => match key {
                Some(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                    let ctrl_c = k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c');
                    if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                        break Ok(());
                    }
                }
                Some(_) => {}
                None => break Ok(()),
            },
            _ = tick.tick() => {}
        }
    };
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::types::{ItemCode, WindowNo};
    use hallq_proto::views::{HallView, ItemView, WindowView};
    use hallq_proto::wire::{CallShown, DisplayUpdate};

    const T0: u64 = 1_740_963_600_000;

    fn screen(board: &Board) -> String {
        crate::screen::render_text(100, 24, |f| draw(f, board, Timestamp(T0 + 60_000)))
    }

    fn board() -> Board {
        let a = ItemCode::new('A').unwrap();
        let mut board = Board::new(Timestamp(T0));
        board.connected("政务服务中心");
        let window = |n: u16, state: WindowState, current: Option<&str>| WindowView {
            number: WindowNo(n),
            state,
            current: current.map(|t| t.parse().unwrap()),
            serving: false,
            staff: None,
            items: vec![a],
            universal: false,
            fallback: false,
        };
        board.apply(
            DisplayUpdate::Snapshot {
                seq: 1,
                view: HallView {
                    day: Some(20250303),
                    issuing: true,
                    windows: vec![
                        window(1, WindowState::Open, Some("A012")),
                        window(2, WindowState::Paused("午休".into()), None),
                    ],
                    items: vec![ItemView {
                        code: a,
                        name: "社保".into(),
                        waiting: [0, 1, 4],
                        open_windows: 1,
                        issued_today: 17,
                    }],
                },
                recent_calls: vec![CallShown {
                    ticket: "A012".parse().unwrap(),
                    window: WindowNo(1),
                    announcement: "请A012号到1号窗口办理".into(),
                    recall: false,
                    at: Timestamp(T0),
                }],
            },
            Timestamp(T0),
        );
        board
    }

    /// Wide characters take two cells; the test backend leaves the second
    /// one empty, so compare without spaces.
    fn compact(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    #[test]
    fn the_terminal_board_shows_calls_windows_and_lines() {
        let text = compact(&screen(&board()));
        assert!(text.contains("政务服务中心"), "{text}");
        assert!(text.contains("●实时"), "{text}");
        assert!(text.contains("A012→1号窗口"), "{text}");
        assert!(text.contains("请A012号到1号窗口办理"), "{text}");
        assert!(text.contains("暂停服务（午休）"), "{text}");
        assert!(text.contains("社保（A）等候5人"), "{text}");
        assert!(text.contains("09:01:00"), "{text}");
    }

    #[test]
    fn the_terminal_board_says_when_it_is_not_live() {
        let mut board = board();
        board.lost("connection refused", Timestamp(T0 + 30_000));
        let text = compact(&screen(&board));
        assert!(text.contains("●连接中断"), "{text}");
        assert!(text.contains("自09:00:30起"), "{text}");
    }
}
