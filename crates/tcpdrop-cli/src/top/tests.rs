//! The view drawn on ratatui's test backend: the text of the screen for
//! layouts, sorting, filter errors, the drop confirmation and terminals too
//! small; and the table's merge of refreshes (new, closed, rates).

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use sockdiag::{Family, InetDiagMsg, SockId, TcpInfo, TcpState};
use tcpdrop::Connection;

use super::keys::{App, Mode};
use super::model::{Column, Key, Life, Owners, Sample, Sort, Table, View};
use super::render;
use super::sort::arrange;
use super::worker::{Control, Report, RowOutcome};

fn conn(state: TcpState, local: &str, remote: &str, cookie: u64) -> Connection {
    let l: SocketAddrV4 = local.parse().unwrap();
    let r: SocketAddrV4 = remote.parse().unwrap();
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&l.ip().octets());
    let mut dst = [0u8; 16];
    dst[..4].copy_from_slice(&r.ip().octets());
    let msg = InetDiagMsg {
        family: Family::Inet,
        state,
        timer: 0,
        retrans: 0,
        id: SockId {
            sport: l.port(),
            dport: r.port(),
            src,
            dst,
            ifindex: 0,
            cookie,
        },
        expires: 0,
        rqueue: 0,
        wqueue: 0,
        uid: 1000,
        inode: 0,
        shutdown: None,
        v6only: None,
        tcp_info: None,
    };
    Connection::from_diag(&msg).unwrap()
}

fn sample(c: Connection, sent: u64, received: u64) -> Sample {
    let info = TcpInfo {
        bytes_sent: Some(sent),
        bytes_received: Some(received),
        rtt: Some(1500),
        ..TcpInfo::default()
    };
    Sample::new(0, c, Some(&info))
}

/// A listener on :8080, two connections to it (both ends), one TIME-WAIT.
fn samples() -> Vec<Sample> {
    vec![
        sample(
            conn(TcpState::Listen, "127.0.0.1:8080", "0.0.0.0:0", 1),
            0,
            0,
        ),
        sample(
            conn(
                TcpState::Established,
                "127.0.0.1:41000",
                "127.0.0.1:8080",
                2,
            ),
            5000,
            300,
        ),
        sample(
            conn(
                TcpState::Established,
                "127.0.0.1:8080",
                "127.0.0.1:41000",
                3,
            ),
            300,
            5000,
        ),
        sample(
            conn(TcpState::Established, "10.0.0.5:443", "10.0.0.9:51234", 4),
            2_000_000,
            42,
        ),
        sample(
            conn(TcpState::TimeWait, "127.0.0.1:41002", "127.0.0.1:8080", 5),
            0,
            0,
        ),
    ]
}

fn view_of(table: &Table, sort: Sort) -> Arc<View> {
    let owners = Owners::default();
    let labels = vec![None];
    let (order, counts) = arrange(table.rows(), &owners, &labels, sort, |_| true);
    Arc::new(View {
        rows: Arc::clone(table.rows()),
        order,
        owners: Arc::new(owners),
        counts,
        at: Instant::now(),
        labels: Arc::new(labels),
    })
}

fn app_with(samples: Vec<Sample>) -> (App, Table) {
    let mut table = Table::default();
    table.merge(samples, Instant::now());
    let app = App::new(view_of(&table, Sort::default()), Duration::from_secs(1));
    (app, table)
}

/// The screen as lines of text.
fn screen(app: &mut App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render::draw(f, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}

fn press(app: &mut App, code: KeyCode) -> Vec<Control> {
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The local ends of the rows, top to bottom, as drawn.
fn locals(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .skip(2)
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words
                .iter()
                .position(|w| ["LISTEN", "ESTAB", "TIME-WAIT"].contains(w))?;
            words.get(at + 1).map(|w| w.to_string())
        })
        .collect()
}

#[test]
fn the_layout_has_counts_by_state_columns_rows_and_the_keys() {
    let (mut app, _) = app_with(samples());
    let lines = screen(&mut app, 160, 14);
    let all = lines.join("\n");
    assert!(
        lines[0].starts_with("tcpdrop --top  5 connections: ESTAB 3, TIME-WAIT 1, LISTEN 1"),
        "{all}"
    );
    assert!(lines[0].contains("every 1s"), "{all}");
    assert!(lines[0].contains("sort: Local ↑"), "{all}");
    for title in [
        "State", "Local↑", "Remote", "Process", "Sent", "Recv'd", "Tx/s", "Rx/s", "RTT", "Age",
        "UID",
    ] {
        assert!(lines[1].contains(title), "no {title} column: {all}");
    }
    // Numeric, the local end first, IPv4 as IP:port.
    let row = lines
        .iter()
        .find(|l| l.contains("10.0.0.5:443"))
        .expect("the row");
    assert!(
        row.find("10.0.0.5:443") < row.find("10.0.0.9:51234"),
        "{row}"
    );
    assert!(
        row.contains("ESTAB") && row.contains("1.9M") && row.contains("1.5ms"),
        "{row}"
    );
    // A TIME-WAIT socket is no process's: -.
    let tw = lines[2..]
        .iter()
        .find(|l| l.contains("TIME-WAIT"))
        .expect("TIME-WAIT row");
    assert!(tw.contains(" - "), "{tw}");
    assert!(
        lines[13].contains("/ filter") && lines[13].contains("d drop"),
        "{all}"
    );
    assert!(
        lines[13].contains("q quit") && lines[13].contains("? help"),
        "{all}"
    );
}

#[test]
fn s_cycles_the_sort_column_and_capital_s_reverses_it() {
    let (mut app, table) = app_with(samples());
    let first = locals(&screen(&mut app, 140, 14));
    assert_eq!(
        first,
        [
            "10.0.0.5:443",
            "127.0.0.1:8080",
            "127.0.0.1:8080",
            "127.0.0.1:41000",
            "127.0.0.1:41002"
        ]
    );
    let controls = press(&mut app, KeyCode::Char('s'));
    let [Control::Sort(sort)] = controls.as_slice() else {
        panic!("{controls:?}")
    };
    assert_eq!(sort.column, Column::Remote);
    // The worker sorts; here its work is done by hand.
    app.set_view(view_of(&table, *sort));
    let lines = screen(&mut app, 140, 14);
    assert!(lines[0].contains("sort: Remote ↑"), "{}", lines[0]);
    assert!(lines[1].contains("Remote↑"), "{}", lines[1]);
    let controls = press(&mut app, KeyCode::Char('S'));
    let [Control::Sort(sort)] = controls.as_slice() else {
        panic!("{controls:?}")
    };
    assert!(sort.reverse);
    app.set_view(view_of(&table, *sort));
    let reversed = locals(&screen(&mut app, 140, 14));
    // By remote end, highest first: 127.0.0.1:41000 is the remote of the
    // server end (local 127.0.0.1:8080); then 127.0.0.1:8080, the remote
    // of both clients; 10.0.0.9; the listener's 0.0.0.0:0 last.
    assert_eq!(
        reversed,
        [
            "127.0.0.1:8080",
            "127.0.0.1:41002",
            "127.0.0.1:41000",
            "10.0.0.5:443",
            "127.0.0.1:8080"
        ]
    );
    let sent_sorted = Sort {
        column: Column::Sent,
        reverse: true,
    };
    app.set_view(view_of(&table, sent_sorted));
    assert_eq!(locals(&screen(&mut app, 140, 14))[0], "10.0.0.5:443");
}

#[test]
fn a_filter_error_is_shown_inline_and_the_old_filter_stays() {
    let (mut app, _) = app_with(samples());
    app.filter_text = "sport = :8080".into();
    press(&mut app, KeyCode::Char('/'));
    // The prompt starts from the filter in force.
    press(&mut app, KeyCode::Char('u'));
    app.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_text(&mut app, "dport = :80x");
    let controls = press(&mut app, KeyCode::Enter);
    assert!(
        controls.is_empty(),
        "a bad filter is not applied: {controls:?}"
    );
    let lines = screen(&mut app, 240, 14);
    let status = &lines[12];
    assert!(status.starts_with("filter: dport = :80x"), "{status}");
    let expected = ssfilter::Filter::parse(&["dport = :80x"])
        .unwrap_err()
        .to_string();
    assert!(
        status.contains(&expected[..40]),
        "{status}\nwant {expected}"
    );
    assert!(status.contains("kept"), "{status}");
    assert_eq!(app.filter_text, "sport = :8080");
    // Esc leaves the prompt; the old filter is still the one in force.
    press(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Normal));
    assert!(screen(&mut app, 160, 14)[0].contains("filter: sport = :8080"));
    // A good one is sent to the worker.
    press(&mut app, KeyCode::Char('/'));
    app.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    type_text(&mut app, "dport = :443");
    let controls = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(controls.as_slice(), [Control::Filter(Some(_))]),
        "{controls:?}"
    );
    assert_eq!(app.filter_text, "dport = :443");
}

#[test]
fn a_terminal_too_small_gets_a_message_and_a_larger_one_the_table() {
    let (mut app, _) = app_with(samples());
    let lines = screen(&mut app, 40, 6);
    let all = lines.join(" ");
    assert!(all.contains("Terminal too small (40×6)"), "{all}");
    assert!(!all.contains("127.0.0.1"), "{all}");
    let lines = screen(&mut app, 60, 8);
    assert!(lines[0].starts_with("tcpdrop --top"), "{lines:?}");
    // Narrow: the least needed columns go, the ends stay whole.
    let all = lines.join("\n");
    assert!(
        all.contains("127.0.0.1:41000") && all.contains("10.0.0.9:51234"),
        "{all}"
    );
    assert!(!lines[1].contains("UID"), "{all}");
}

#[test]
fn d_confirms_the_marked_rows_naming_their_loopback_peers_and_sparing_listeners() {
    let (mut app, _) = app_with(samples());
    // Rows: 10.0.0.5:443, 127.0.0.1:8080 (LISTEN), 127.0.0.1:8080 (server
    // end), 127.0.0.1:41000 (client end), TIME-WAIT. Mark the listener
    // and the client end.
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.marked.len(), 2);
    press(&mut app, KeyCode::Char('d'));
    let lines = screen(&mut app, 160, 20);
    let all = lines.join("\n");
    assert!(all.contains("Drop 1 connection?"), "{all}");
    assert!(all.contains("127.0.0.1:41000 127.0.0.1:8080"), "{all}");
    assert!(all.contains("loopback peer will be reset too"), "{all}");
    assert!(all.contains("127.0.0.1:8080 127.0.0.1:41000"), "{all}");
    assert!(all.contains("Not dropped: 1 listener"), "{all}");
    assert!(all.contains("y: drop"), "{all}");
    let controls = press(&mut app, KeyCode::Char('y'));
    let [Control::Drop { targets, listeners }] = controls.as_slice() else {
        panic!("{controls:?}")
    };
    assert!(!listeners);
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].1.local.to_string(), "127.0.0.1:41000");
    // Its outcome, when the worker reports it, is on its row and in the
    // status line, in the command's words.
    let key = targets[0].0;
    app.report(Report::Outcome(
        key,
        RowOutcome {
            word: "failed",
            detail: "no way to abort it (destroy: needs CAP_NET_ADMIN): run as root".into(),
        },
    ));
    app.report(Report::Dropped {
        dropped: 0,
        gone: 0,
        failed: 1,
        reason: Some("no way to abort it (destroy: needs CAP_NET_ADMIN): run as root".into()),
    });
    let lines = screen(&mut app, 200, 20);
    let row = lines
        .iter()
        .find(|l| l.contains("127.0.0.1:41000 ") && l.contains("failed"))
        .unwrap_or_else(|| panic!("{}", lines.join("\n")));
    assert!(
        row.contains("failed (no way to abort it (destroy: needs CAP_NET_ADMIN)"),
        "{row}"
    );
    assert!(
        lines[18].starts_with("dropped 0, gone 0, failed 1"),
        "{}",
        lines[18]
    );
    assert!(lines[18].contains("needs CAP_NET_ADMIN"), "{}", lines[18]);
}

#[test]
fn n_and_esc_cancel_a_drop_and_a_listener_goes_with_listening_in_the_filter() {
    let (mut app, _) = app_with(samples());
    press(&mut app, KeyCode::Down); // the listener
    press(&mut app, KeyCode::Char('d'));
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.status.as_deref(), Some("nothing dropped"));
    app.filter_listening = true;
    press(&mut app, KeyCode::Char('d'));
    let controls = press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(controls.as_slice(), [Control::Drop { targets, listeners: true }] if targets.len() == 1),
        "{controls:?}"
    );
}

#[test]
fn refreshes_mark_new_rows_fade_closed_ones_and_measure_rates() {
    let t0 = Instant::now();
    let mut table = Table::default();
    let a = conn(TcpState::Established, "127.0.0.1:1", "127.0.0.1:2", 10);
    let b = conn(TcpState::Established, "127.0.0.1:3", "127.0.0.1:4", 11);
    let c = conn(TcpState::Established, "127.0.0.1:5", "127.0.0.1:6", 12);
    table.merge(
        vec![sample(a.clone(), 1000, 0), sample(b.clone(), 0, 0)],
        t0,
    );
    // The first dump is what there is, not what is new.
    assert!(table.rows().iter().all(|r| r.life == Life::Seen));
    let t1 = t0 + Duration::from_secs(2);
    table.merge(
        vec![sample(a.clone(), 5000, 0), sample(c.clone(), 0, 0)],
        t1,
    );
    let life = |cookie: u64, table: &Table| {
        table
            .rows()
            .iter()
            .find(|r| r.key() == Key { space: 0, cookie })
            .map(|r| (r.life, r.send_rate))
    };
    assert_eq!(life(10, &table), Some((Life::Seen, Some(2000.0))));
    assert_eq!(life(11, &table).map(|l| l.0), Some(Life::Closed));
    assert_eq!(life(12, &table).map(|l| l.0), Some(Life::New));
    // Drawn: new green, closed red.
    let mut app = App::new(view_of(&table, Sort::default()), Duration::from_secs(1));
    let mut terminal = Terminal::new(TestBackend::new(140, 10)).unwrap();
    terminal.draw(|f| render::draw(f, &mut app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let row_of = |text: &str| {
        (0..10u16)
            .find(|&y| {
                (0..140u16)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .contains(text)
            })
            .unwrap()
    };
    assert_eq!(buffer[(5, row_of("127.0.0.1:5 "))].fg, Color::Green);
    assert_eq!(buffer[(5, row_of("127.0.0.1:3 "))].fg, Color::Red);
    // The header counts open connections only.
    let text: String = (0..140u16).map(|x| buffer[(x, 0)].symbol()).collect();
    assert!(text.contains("2 connections: ESTAB 2"), "{text}");
    // One refresh later the closed row is gone, the new one is just seen.
    table.merge(
        vec![sample(a, 6000, 0), sample(c, 0, 0)],
        t1 + Duration::from_secs(1),
    );
    assert_eq!(life(11, &table), None);
    assert_eq!(life(12, &table).map(|l| l.0), Some(Life::Seen));
}

#[test]
fn the_cursor_stays_on_its_connection_as_rows_move() {
    let (mut app, mut table) = app_with(samples());
    press(&mut app, KeyCode::End);
    let key = app.cursor_key.expect("a row under the cursor");
    // A new connection sorts first: the cursor's row moves down one.
    let mut more = samples();
    more.push(sample(
        conn(TcpState::Established, "1.1.1.1:1", "2.2.2.2:2", 99),
        0,
        0,
    ));
    table.merge(more, Instant::now());
    app.set_view(view_of(&table, Sort::default()));
    assert_eq!(app.cursor_key, Some(key));
    assert_eq!(app.cursor, 5);
    // q quits, and so does Ctrl-C.
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
    let (mut app, _) = app_with(samples());
    app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn numbers_are_short_and_readable() {
    assert_eq!(render::bytes(0), "0");
    assert_eq!(render::bytes(1023), "1023");
    assert_eq!(render::bytes(1536), "1.5K");
    assert_eq!(render::bytes(20 * 1024 * 1024), "20M");
    assert_eq!(render::bytes(3 << 29), "1.5G");
    // Past the last unit the number grows instead.
    assert_eq!(render::bytes(u64::MAX), "16384P");
    assert_eq!(render::duration(Duration::from_millis(250)), "250ms");
    assert_eq!(render::duration(Duration::from_secs(1)), "1s");
    assert_eq!(render::age(Duration::from_millis(300)), "0s");
    assert_eq!(render::age(Duration::from_secs(200)), "3m");
}

#[test]
fn ends_are_numbers_until_n_asks_for_names() {
    let (mut app, _) = app_with(samples());
    let lines = screen(&mut app, 160, 14);
    assert!(
        lines.iter().any(|l| l.contains("127.0.0.1:8080")),
        "{lines:?}"
    );
    assert!(!lines.join("\n").contains("localhost"));
    // Names come from the files only, never from DNS: here, given texts.
    let names = super::names::Names::parse(
        "127.0.0.1 localhost\n# comment\n10.0.0.5 web.example web\n",
        "http-alt 8080/tcp webcache\nhttps 443/tcp\nhttps 443/udp\n",
    );
    app.names = Some(Arc::new(names));
    let lines = screen(&mut app, 160, 14);
    let all = lines.join("\n");
    assert!(lines[0].contains("names"), "{all}");
    assert!(all.contains("localhost:http-alt"), "{all}");
    assert!(all.contains("web.example:https"), "{all}");
    // What has no name stays a number; a listener's remote end is *:*.
    assert!(all.contains("10.0.0.9:51234"), "{all}");
    assert!(all.contains("*:*"), "{all}");
    press(&mut app, KeyCode::Char('n'));
    assert!(app.names.is_none());
}

#[test]
fn with_all_netns_each_row_names_its_namespace() {
    let mut table = Table::default();
    let mut blue = sample(
        conn(TcpState::Established, "10.1.0.1:22", "10.1.0.2:5000", 7),
        0,
        0,
    );
    blue.space = 1;
    table.merge(
        vec![
            sample(conn(TcpState::Listen, "0.0.0.0:22", "0.0.0.0:0", 6), 0, 0),
            blue,
        ],
        Instant::now(),
    );
    let owners = Owners::default();
    let labels = vec![Some("/proc/1/ns/net".to_string()), Some("blue".to_string())];
    let (order, counts) = arrange(table.rows(), &owners, &labels, Sort::default(), |_| true);
    let view = Arc::new(View {
        rows: Arc::clone(table.rows()),
        order,
        owners: Arc::new(owners),
        counts,
        at: Instant::now(),
        labels: Arc::new(labels),
    });
    let mut app = App::new(view, Duration::from_secs(1));
    app.netns_column = true;
    let lines = screen(&mut app, 160, 10);
    assert!(lines[1].contains("Netns"), "{lines:?}");
    let row = lines.iter().find(|l| l.contains("10.1.0.1:22")).unwrap();
    assert!(row.contains("blue"), "{row}");
    let row = lines.iter().find(|l| l.contains("0.0.0.0:22")).unwrap();
    assert!(row.contains("/proc/1/ns/net"), "{row}");
}

#[test]
fn ipv6_ends_that_share_their_first_bits_still_sort_by_the_whole_address() {
    // The sort packs an IPv6 address's first 63 bits; these differ only
    // in their last ones, and must still come out in address order.
    let v6 = |local: &str, port: u16, cookie: u64| {
        let ip: std::net::Ipv6Addr = local.parse().unwrap();
        let msg = InetDiagMsg {
            family: Family::Inet6,
            state: TcpState::Established,
            timer: 0,
            retrans: 0,
            id: SockId {
                sport: port,
                dport: 443,
                src: ip.octets(),
                dst: "2001:db8::ffff"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
                ifindex: 0,
                cookie,
            },
            expires: 0,
            rqueue: 0,
            wqueue: 0,
            uid: 0,
            inode: 0,
            shutdown: None,
            v6only: None,
            tcp_info: None,
        };
        Sample::new(0, Connection::from_diag(&msg).unwrap(), None)
    };
    let mut table = Table::default();
    table.merge(
        vec![
            v6("2001:db8::9", 1, 1),
            v6("2001:db8::3", 9, 2),
            v6("2001:db8::3", 2, 3),
            v6("2001:db8::10", 1, 4),
            sample(
                conn(TcpState::Established, "10.0.0.1:1", "10.0.0.2:2", 5),
                0,
                0,
            ),
        ],
        Instant::now(),
    );
    let view = view_of(&table, Sort::default());
    let locals: Vec<String> = (0..view.len())
        .map(|i| view.row(i).unwrap().conn().local.to_string())
        .collect();
    assert_eq!(
        locals,
        [
            "10.0.0.1:1",
            "[2001:db8::3]:2",
            "[2001:db8::3]:9",
            "[2001:db8::9]:1",
            "[2001:db8::10]:1"
        ]
    );
}

#[test]
fn the_sort_key_goes_round_every_column() {
    let mut seen = vec![Column::Local];
    let mut column = Column::Local.next(true);
    while column != Column::Local {
        seen.push(column);
        column = column.next(true);
    }
    assert_eq!(seen, Column::SORTABLE);
    // Without several namespaces the Netns column is passed over.
    let before = Column::SORTABLE
        .iter()
        .position(|&c| c == Column::Netns)
        .unwrap()
        - 1;
    let skipped = Column::SORTABLE[before].next(false);
    assert_eq!(skipped, Column::SORTABLE[before + 2]);
}
