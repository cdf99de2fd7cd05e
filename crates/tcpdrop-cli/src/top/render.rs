//! Drawing the view: a header with the counts by state, the table (only
//! the rows on screen are formatted), the status line, the keys; over it
//! the filter prompt, the confirmation of a drop, or the help.

use std::time::{Duration, Instant};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row as TableRow, Table, Wrap};
use ratatui::Frame;

use super::dialogs;
use super::keys::{App, Mode};
use super::model::{Column, Life, OwnersOf, Row};
use crate::output::{address, owners_text};

/// The smallest terminal the view is drawn in.
pub(crate) const MIN_WIDTH: u16 = 60;
pub(crate) const MIN_HEIGHT: u16 = 8;

/// The keys, as the footer lists them; the short form on narrower screens
/// (80 columns), where `?` lists the rest.
pub(crate) const FOOTER: &str = "↑↓/jk PgUp/PgDn Home/End move · / filter · s/S sort · space mark · d drop · p pause · +/- interval · ? help · q quit";
const FOOTER_SHORT: &str =
    "↑↓ move · / filter · s sort · space mark · d drop · p pause · ? help · q quit";

/// Draw everything.
pub(crate) fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "Terminal too small ({}×{}): tcpdrop --top needs at least {MIN_WIDTH}×{MIN_HEIGHT}. Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, table, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(2),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    // The column titles take one line.
    app.page = usize::from(table.height.saturating_sub(1)).max(1);
    app.clamp();
    frame.render_widget(Paragraph::new(header_line(app)), header);
    draw_table(frame, app, table);
    frame.render_widget(Paragraph::new(status_line(app)), status);
    let keys = if usize::from(footer.width) >= FOOTER.chars().count() {
        FOOTER
    } else {
        FOOTER_SHORT
    };
    frame.render_widget(
        Paragraph::new(Line::from(keys).style(Style::new().add_modifier(Modifier::REVERSED))),
        footer,
    );
    match &app.mode {
        Mode::Confirm(confirm) => dialogs::confirm(frame, confirm, area),
        Mode::Help => dialogs::help(frame, area),
        Mode::Filter { .. } | Mode::Normal => {}
    }
}

fn header_line(app: &App) -> Line<'static> {
    let view = &app.view;
    let open = view.open();
    let mut spans = vec![
        Span::styled("tcpdrop --top", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "  {open} connection{}",
            if open == 1 { "" } else { "s" }
        )),
    ];
    if !view.counts.is_empty() {
        let counts: Vec<String> = view
            .counts
            .iter()
            .map(|(s, n)| format!("{} {n}", s.ss_name()))
            .collect();
        spans.push(Span::raw(format!(": {}", counts.join(", "))));
    }
    spans.push(Span::raw(format!("  · every {}", duration(app.interval))));
    if app.paused {
        spans.push(Span::styled(
            "  PAUSED",
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    let arrow = if app.sort.reverse { "↓" } else { "↑" };
    spans.push(Span::raw(format!(
        "  · sort: {} {arrow}",
        app.sort.column.title()
    )));
    if app.names.is_some() {
        spans.push(Span::raw("  · names"));
    }
    if !app.filter_text.is_empty() {
        spans.push(Span::raw(format!("  · filter: {}", app.filter_text)));
    }
    if !app.marked.is_empty() {
        spans.push(Span::raw(format!("  · {} marked", app.marked.len())));
    }
    Line::from(spans)
}

fn status_line(app: &App) -> Line<'static> {
    match &app.mode {
        Mode::Filter { input, error } => {
            let mut spans = vec![
                Span::styled("filter: ", Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(input.clone()),
                Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            ];
            match error {
                Some(error) => spans.push(Span::styled(
                    format!("  {error} (the filter in force is kept; Esc cancels)"),
                    Style::new().fg(Color::Red),
                )),
                None => spans.push(Span::styled(
                    "  (ss syntax, e.g. dport = :443 or state established; Enter applies, Esc cancels)",
                    Style::new().add_modifier(Modifier::DIM),
                )),
            }
            Line::from(spans)
        }
        _ => match &app.status {
            Some(text) => Line::from(text.clone()),
            None => Line::from(""),
        },
    }
}

/// The columns shown, in order, with their widths.
fn columns(app: &App, width: u16, rows: &[&Row]) -> Vec<(Column, u16)> {
    let widest = |f: &dyn Fn(&Row) -> usize, title: &str| -> u16 {
        let w = rows
            .iter()
            .map(|r| f(r))
            .max()
            .unwrap_or(0)
            .max(title.len());
        u16::try_from(w).unwrap_or(u16::MAX)
    };
    let local = widest(&|r| end(app, &r.conn().local).chars().count(), "Local");
    let remote = widest(&|r| end(app, &r.conn().remote).chars().count(), "Remote");
    let process = widest(&|r| process_text(app, r).chars().count(), "Process").min(30);
    let netns = widest(
        &|r| {
            app.view
                .labels
                .get(usize::from(r.sample.space))
                .and_then(|l| l.as_deref())
                .map_or(0, str::len)
        },
        "Netns",
    )
    .min(24);
    // In order of importance: what does not fit is left out from the end.
    let mut wanted = vec![
        (Column::State, 10),
        (Column::Local, local),
        (Column::Remote, remote),
        (Column::Process, process),
    ];
    if app.netns_column {
        wanted.push((Column::Netns, netns));
    }
    wanted.extend([
        (Column::Sent, 7),
        (Column::Received, 7),
        (Column::SendRate, 7),
        (Column::RecvRate, 7),
        (Column::Age, 5),
        (Column::Rtt, 7),
        (Column::Uid, 6),
        (Column::RecvQ, 6),
        (Column::SendQ, 6),
    ]);
    // The mark gutter, the outcomes on screen (as wide as the widest), a
    // space between columns.
    let outcome = rows
        .iter()
        .map(|r| outcome_text(app, r).chars().count())
        .max()
        .unwrap_or(0);
    let mut left = i32::from(width) - 3 - i32::try_from(outcome).unwrap_or(i32::MAX);
    let mut shown = Vec::new();
    for (column, w) in wanted {
        let need = i32::from(w) + 1;
        if left >= need || shown.len() < 3 {
            left -= need;
            shown.push((column, w));
        }
    }
    let order = |c: &Column| match c {
        Column::State => 0,
        Column::Local => 1,
        Column::Remote => 2,
        Column::Process => 3,
        Column::Uid => 4,
        Column::Netns => 5,
        Column::RecvQ => 6,
        Column::SendQ => 7,
        Column::Sent => 8,
        Column::Received => 9,
        Column::SendRate => 10,
        Column::RecvRate => 11,
        Column::Rtt => 12,
        Column::Age => 13,
    };
    shown.sort_by_key(|(c, _)| order(c));
    shown
}

/// An end as numbers (as `ss -n`), or by name after `n`.
fn end(app: &App, addr: &std::net::SocketAddr) -> String {
    match &app.names {
        Some(names) => names.end(addr),
        None => address(addr, &|_| None),
    }
}

fn process_text(app: &App, row: &Row) -> String {
    match app.view.owners.of(row.conn().inode) {
        OwnersOf::None => "-".to_string(),
        OwnersOf::Known(owners) => owners_text(owners),
        OwnersOf::Unreadable => "?".to_string(),
        OwnersOf::Pending => "…".to_string(),
    }
}

fn cell(app: &App, row: &Row, column: Column, now: Instant) -> String {
    let c = row.conn();
    match column {
        Column::State => c.state.ss_name().to_string(),
        Column::Local => end(app, &c.local),
        Column::Remote => end(app, &c.remote),
        Column::Process => process_text(app, row),
        Column::Uid => c.uid.to_string(),
        Column::Netns => app
            .view
            .labels
            .get(usize::from(row.sample.space))
            .and_then(|l| l.clone())
            .unwrap_or_default(),
        Column::RecvQ => c.recv_q.to_string(),
        Column::SendQ => c.send_q.to_string(),
        // A listener carries no traffic of its own.
        Column::Sent | Column::Received | Column::SendRate | Column::RecvRate | Column::Rtt
            if c.is_listener() =>
        {
            String::new()
        }
        Column::Sent => row.sample.sent.map(bytes).unwrap_or_default(),
        Column::Received => row.sample.received.map(bytes).unwrap_or_default(),
        Column::SendRate => row.send_rate.map(rate).unwrap_or_default(),
        Column::RecvRate => row.recv_rate.map(rate).unwrap_or_default(),
        Column::Rtt => row.sample.rtt_us.map(rtt).unwrap_or_default(),
        Column::Age => age(now.saturating_duration_since(row.first_seen)),
    }
}

/// What the last column says of a row: its drop's outcome, or that it is
/// new or has closed.
fn outcome_text(app: &App, row: &Row) -> String {
    match (app.outcomes.get(&row.key()), row.life) {
        (Some(o), _) => o.text(),
        (None, Life::Closed) => "closed".to_string(),
        (None, Life::New) => "new".to_string(),
        (None, Life::Seen) => String::new(),
    }
}

fn right_aligned(column: Column) -> bool {
    !matches!(
        column,
        Column::State | Column::Local | Column::Remote | Column::Process | Column::Netns
    )
}

fn draw_table(frame: &mut Frame, app: &App, area: Rect) {
    let page = usize::from(area.height.saturating_sub(1));
    let rows: Vec<(usize, &Row)> = (app.offset..app.offset + page)
        .filter_map(|i| app.view.row(i).map(|r| (i, r)))
        .collect();
    let plain: Vec<&Row> = rows.iter().map(|(_, r)| *r).collect();
    let shown = columns(app, area.width, &plain);
    let sorted_by = app.sort.column;
    let mut titles = vec![Span::raw("  ")];
    for (column, w) in &shown {
        let mut title = column.title().to_string();
        if *column == sorted_by {
            title.push(if app.sort.reverse { '↓' } else { '↑' });
        }
        titles.push(Span::raw(pad(&title, *w, right_aligned(*column))));
    }
    titles.push(Span::raw("Outcome"));
    let header = TableRow::new(titles).style(Style::new().add_modifier(Modifier::BOLD));
    let now = app.view.at.max(Instant::now());
    let body: Vec<TableRow> = rows
        .iter()
        .map(|(i, row)| {
            let marked = app.marked.contains(&row.key());
            let mut cells = vec![Span::raw(if marked { "* " } else { "  " })];
            for (column, w) in &shown {
                let text = cell(app, row, *column, now);
                cells.push(Span::raw(pad(&text, *w, right_aligned(*column))));
            }
            let outcome = app.outcomes.get(&row.key());
            let text = outcome_text(app, row);
            let style = match outcome.map(|o| o.word) {
                Some("dropped") => Style::new().fg(Color::Green),
                Some("gone") => Style::new().fg(Color::Yellow),
                Some("failed") => Style::new().fg(Color::Red),
                _ => Style::new(),
            };
            cells.push(Span::styled(text, style));
            let mut style = match row.life {
                Life::New => Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
                Life::Closed => Style::new().fg(Color::Red).add_modifier(Modifier::DIM),
                Life::Seen => Style::new(),
            };
            if marked {
                style = style.fg(Color::Yellow).add_modifier(Modifier::BOLD);
            }
            if *i == app.cursor {
                style = style.add_modifier(Modifier::REVERSED);
            }
            TableRow::new(cells).style(style)
        })
        .collect();
    let mut widths = vec![Constraint::Length(2)];
    widths.extend(shown.iter().map(|(_, w)| Constraint::Length(*w)));
    widths.push(Constraint::Min(0));
    let table = Table::new(body, widths).header(header).column_spacing(1);
    frame.render_widget(table, area);
    if app.view.len() == 0 {
        let text = if app.filter_text.is_empty() {
            "no connection to show".to_string()
        } else {
            format!("no connection matches the filter '{}'", app.filter_text)
        };
        let at = Rect {
            y: area.y.saturating_add(1),
            height: 1,
            ..area
        };
        frame.render_widget(Paragraph::new(text), at);
    }
}

fn pad(text: &str, width: u16, right: bool) -> String {
    let w = usize::from(width);
    let len = text.chars().count();
    if len > w {
        let mut cut: String = text.chars().take(w.saturating_sub(1)).collect();
        cut.push('…');
        return cut;
    }
    if right {
        format!("{text:>w$}")
    } else {
        format!("{text:<w$}")
    }
}

/// `512`, `1.5K`, `12M`, `3.2G` (powers of 1024).
pub(crate) fn bytes(n: u64) -> String {
    if n < 1024 {
        return n.to_string();
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = "K";
    for larger in ["M", "G", "T", "P"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = larger;
    }
    if value < 10.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

fn rate(per_second: f64) -> String {
    bytes(per_second.round() as u64)
}

/// `35µs`, `1.2ms`, `120ms`, `1.5s`.
fn rtt(us: u32) -> String {
    match us {
        0..=999 => format!("{us}µs"),
        1000..=9_999 => format!("{:.1}ms", f64::from(us) / 1000.0),
        10_000..=999_999 => format!("{}ms", us / 1000),
        _ => format!("{:.1}s", f64::from(us) / 1_000_000.0),
    }
}

/// An interval: `250ms`, `1s`, `30s`.
pub(crate) fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    age(d)
}

/// How long a row has been seen: `0s`, `12s`, `5m`, `3h`, `2d`.
pub(crate) fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
