//! What is drawn over the table: the confirmation of a drop (what goes,
//! the loopback peers it resets, the listeners left out) and the help.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::keys::Confirm;
use crate::output::address;

/// The help, one key a line.
const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move one row"),
    ("PgUp PgDn", "move one page"),
    ("Home End  g G", "first, last row"),
    ("/", "filter in ss's language (Enter applies, Esc cancels)"),
    ("s  S", "sort by the next column; reverse the order"),
    ("space", "mark or unmark the row (Esc unmarks all)"),
    (
        "d  Delete",
        "drop the marked rows, or the current one (asks first)",
    ),
    ("p", "pause or resume refreshing"),
    ("+  -", "refresh less or more often"),
    ("r", "refresh now"),
    (
        "n",
        "names for the ends (/etc/hosts, /etc/services) or numbers",
    ),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

/// A popup of `width` × `height` in the middle of `area`.
fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn conn_line(conn: &tcpdrop::Connection) -> String {
    let names = |_: u32| None;
    format!(
        "{:<10} {} {}",
        conn.state.ss_name(),
        address(&conn.local, &names),
        address(&conn.remote, &names)
    )
}

pub(crate) fn confirm(frame: &mut Frame, confirm: &Confirm, area: Rect) {
    let n = confirm.targets.len();
    let mut lines: Vec<Line> = Vec::new();
    let room = usize::from(area.height.saturating_sub(8)).max(3);
    if n > 0 {
        lines.push(Line::from(format!(
            "Drop {n} connection{}?",
            if n == 1 { "" } else { "s" }
        )));
        let listed = confirm.targets.len().min(room);
        for (_, conn) in confirm.targets.iter().take(listed) {
            lines.push(Line::from(format!("  {}", conn_line(conn))));
        }
        if n > listed {
            lines.push(Line::from(format!("  … and {} more", n - listed)));
        }
    }
    if !confirm.peers.is_empty() {
        lines.push(Line::from(format!(
            "Their loopback peer{} will be reset too:",
            if confirm.peers.len() == 1 { "" } else { "s" }
        )));
        for conn in confirm.peers.iter().take(room) {
            lines.push(Line::from(format!("  {}", conn_line(conn))));
        }
        if confirm.peers.len() > room {
            lines.push(Line::from(format!(
                "  … and {} more",
                confirm.peers.len() - room
            )));
        }
    }
    if !confirm.listeners.is_empty() {
        lines.push(Line::styled(
            format!(
                "Not dropped: {} listener{} — a listener is dropped only when `listening` is in the selection (press / and add state listening, or start with -s listening):",
                confirm.listeners.len(),
                if confirm.listeners.len() == 1 { "" } else { "s" }
            ),
            Style::new().fg(Color::Yellow),
        ));
        for conn in confirm.listeners.iter().take(room) {
            lines.push(Line::from(format!("  {}", conn_line(conn))));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(if n > 0 {
        "y: drop · n/Esc: cancel"
    } else {
        "nothing to drop · n/Esc: close"
    }));
    let width = lines
        .iter()
        .map(Line::width)
        .max()
        .unwrap_or(20)
        .saturating_add(4);
    let width = u16::try_from(width)
        .unwrap_or(u16::MAX)
        .min(area.width.saturating_sub(2));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let at = popup(area, width, height);
    frame.render_widget(Clear, at);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" drop ")),
        at,
    );
}

pub(crate) fn help(frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(key, what)| Line::from(format!("{key:<14} {what}")))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        "New rows are green for one refresh; closed ones red, then gone.",
    ));
    lines.push(Line::from(
        "Process: command/pid; - no process, … not read yet, ? unreadable:",
    ));
    lines.push(Line::from(
        "  other users' need CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE (root has both).",
    ));
    lines.push(Line::from("Any key closes this help."));
    let width = lines
        .iter()
        .map(Line::width)
        .max()
        .unwrap_or(40)
        .saturating_add(4);
    let width = u16::try_from(width).unwrap_or(u16::MAX);
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let at = popup(area, width, height);
    frame.render_widget(Clear, at);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" keys ")),
        at,
    );
}
