//! What the options ask for, read and checked before anything is opened:
//! the plan, and the namespaces (with their sessions) it runs in.

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use ssfilter::names::{HostAddrs, Names};
use ssfilter::Filter;
use tcpdrop::netns::NetnsFollower;
use tcpdrop::procs::ProcRefusals;
use tcpdrop::{Connection, Error, Family, Netns, Query, Session, State, StateSet};

use crate::cli::Cli;
use crate::exit_codes;
use crate::failure::Failure;
use crate::owners::OwnerFilter;
use crate::tuple;

/// What the positional words named, in one namespace.
pub(crate) enum Target {
    /// Every connection the other options allow.
    Everything,
    /// Exactly the connections with these ends (one, or `-f`'s list).
    Tuples(Vec<(SocketAddr, SocketAddr)>),
    /// Those an `ss` filter expression selects.
    Filter(Filter),
}

/// What the positional words named, as typed: a tuple's `%scope` is looked
/// up in each namespace.
pub(crate) enum Typed {
    Everything,
    Tuples(Vec<(tuple::Endpoint, tuple::Endpoint)>),
    Filter(Filter),
}

/// What the options decided, the same in every namespace.
pub(crate) struct Plan {
    pub(crate) query: Query,
    pub(crate) typed: Typed,
    /// Listeners may be chosen: `listening` was named.
    pub(crate) listeners: bool,
    pub(crate) owners: OwnerFilter,
    /// `-p`: show the owning processes.
    pub(crate) show_owners: bool,
    /// `--method`: one way to abort, or `None` for auto.
    pub(crate) method: Option<tcpdrop::Method>,
    /// What each host name in the words stood for, to be shown before
    /// anything is done.
    pub(crate) resolved: Vec<HostAddrs>,
}

/// One network namespace to work in.
pub(crate) struct Space {
    /// Its name or path, when namespaces were named (`-N`, `--all-netns`).
    pub(crate) label: Option<String>,
    pub(crate) session: Session,
    pub(crate) target: Target,
}

/// The namespaces to work in, and what `--all-netns` could not reach.
pub(crate) struct Spaces {
    pub(crate) list: Vec<Space>,
    /// The namespaces found but not entered, and the processes whose
    /// namespace could not be told: one line saying how many and why.
    pub(crate) unreached: Option<String>,
    /// `--watch --all-netns`: what finds the namespaces made and removed
    /// since ([`follow_spaces`]).
    pub(crate) follow: Option<NetnsFollower>,
}

/// How `--watch` runs.
pub(crate) struct WatchPlan {
    pub(crate) interval: Duration,
    pub(crate) count: Option<u64>,
    pub(crate) timeout: Option<Duration>,
}

/// The states named with `-s`, and whether `listening` was named explicitly.
pub(crate) fn parse_states(names: &[String]) -> Result<(Option<StateSet>, bool), Failure> {
    let mut set: Option<StateSet> = None;
    let mut listeners = false;
    for name in names {
        let named = StateSet::from_name(name).ok_or_else(|| {
            Failure::usage(format!(
                "unknown state '{name}': use established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, \
                 time-wait, closed, close-wait, last-ack, listening, closing, or a group: \
                 connected, synchronized, bucket, big, all"
            ))
        })?;
        listeners |= State::from_name(name) == Some(State::Listen);
        set = Some(set.map_or(named, |s| s.union(named)));
    }
    Ok((set, listeners))
}

/// The method `--method` names (`auto`: none forced).
pub(crate) fn method_named(name: &str) -> Option<tcpdrop::Method> {
    match name {
        "destroy" => Some(tcpdrop::Method::Destroy),
        "owner" => Some(tcpdrop::Method::Owner),
        "inject" => Some(tcpdrop::Method::Inject),
        "bpf" => Some(tcpdrop::Method::Bpf),
        _ => None,
    }
}

/// Read the options into a plan; every usage error is found here, before
/// anything is opened or touched.
pub(crate) fn plan(cli: &Cli) -> Result<Plan, Failure> {
    cli.check().map_err(Failure::usage)?;
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::Ipv4),
        (_, true) => Some(Family::Ipv6),
        _ => None,
    };
    let (states, listeners_named) = parse_states(&cli.states)?;
    let names = Names::system();
    let (typed, resolved) = if let Some(file) = &cli.file {
        if !cli.args.is_empty() {
            return Err(Failure::usage(
                "-f reads the connections from FILE: give no CONNECTION or FILTER with it",
            ));
        }
        let (tuples, resolved) = tuple::read_file(file, names).map_err(Failure::usage)?;
        (Typed::Tuples(tuples), resolved)
    } else if tuple::is_filter(&cli.args) {
        let (filter, resolved) =
            Filter::parse_with(&cli.args, names).map_err(|err| Failure::usage(err.to_string()))?;
        (Typed::Filter(filter), resolved)
    } else if !cli.args.is_empty() {
        let (tuple, resolved) = tuple::parse_with(&cli.args, names).map_err(Failure::usage)?;
        (Typed::Tuples(vec![tuple]), resolved)
    } else {
        (Typed::Everything, Vec::new())
    };
    let named = !matches!(typed, Typed::Everything);
    let owners = OwnerFilter::new(&cli.pid, &cli.process, &cli.uid).map_err(Failure::usage)?;
    if named && cli.all {
        return Err(Failure::usage(
            "-a drops everything: give it without a connection or filter",
        ));
    }
    // A dry run refuses what the real run would refuse.
    if !cli.list && !named && !cli.all && states.is_none() && !owners.is_active() {
        return Err(Failure::usage(
            "nothing to drop: name a connection (LADDR LPORT RADDR RPORT), give a filter, \
             -s STATE, --pid, --process, --uid or -a (-l lists everything)",
        ));
    }
    if cli.list && (cli.dry_run || cli.all) {
        return Err(Failure::usage("-l lists; it does not go with -a or -n"));
    }
    // A filter's own `state listening` asks for listeners as -s does.
    let listeners = listeners_named || matches!(&typed, Typed::Filter(f) if f.names_listening());
    let mut wanted = states.unwrap_or(StateSet::ALL);
    if let Typed::Filter(filter) = &typed {
        wanted = wanted.intersection(filter.states());
    }
    Ok(Plan {
        query: Query {
            family,
            states: wanted,
        },
        typed,
        listeners,
        owners,
        show_owners: cli.processes,
        method: cli.method.as_deref().and_then(method_named),
        resolved,
    })
}

/// The namespaces to work in, each with its session and target. With
/// `--all-netns`, those that could not be entered are left out and said
/// ([`Spaces::unreached`]); if none could be, that is the failure (exit 4).
pub(crate) fn open_spaces(cli: &Cli, plan: &Plan) -> Result<Spaces, Failure> {
    let mut unreached = None;
    let mut follow = None;
    let sessions: Vec<(Option<String>, Session)> = if cli.all_netns {
        let mut follower = NetnsFollower::new();
        let found = follower.scan();
        unreached = unreached_line(&found.denied, follower.entered(), &found.hidden);
        if found.joined.is_empty() {
            if let Some(line) = unreached {
                return Err(Failure {
                    code: exit_codes::PERMISSION,
                    message: line,
                });
            }
        }
        if cli.watch.is_some() {
            follow = Some(follower);
        }
        found
            .joined
            .into_iter()
            .map(|ns| Ok((Some(ns.name().to_string()), Session::in_netns(&ns)?)))
            .collect::<Result<_, Error>>()?
    } else if let Some(name) = &cli.netns {
        let ns = Netns::open(name)?;
        vec![(Some(ns.name().to_string()), Session::in_netns(&ns)?)]
    } else {
        vec![(None, Session::new()?)]
    };
    let list = sessions
        .into_iter()
        .map(|(label, session)| space(label, session, plan))
        .collect::<Result<_, Failure>>()?;
    Ok(Spaces {
        list,
        unreached,
        follow,
    })
}

/// One namespace's space: its session, and the target the words name
/// there (a `%scope` is looked up in it).
fn space(label: Option<String>, session: Session, plan: &Plan) -> Result<Space, Failure> {
    let target = match &plan.typed {
        Typed::Everything => Target::Everything,
        Typed::Filter(filter) => Target::Filter(filter.clone()),
        Typed::Tuples(tuples) => Target::Tuples(
            tuples
                .iter()
                .map(|(l, r)| Ok((socket_addr(&session, l)?, socket_addr(&session, r)?)))
                .collect::<Result<_, Failure>>()?,
        ),
    };
    Ok(Space {
        label,
        session,
        target,
    })
}

/// `--watch --all-netns`, before each round but the first: the namespaces
/// made since join (a session opened in each), those gone leave without a
/// word (their sessions closed, so the kernel can free them), and rows
/// carry the name each is found by now. A new namespace that cannot be
/// worked in (a `%scope` it lacks) is said once on stderr and left out.
pub(crate) fn follow_spaces(spaces: &mut Spaces, plan: &Plan) {
    let Some(follower) = spaces.follow.as_mut() else {
        return;
    };
    let found = follower.scan();
    let id = |space: &Space| space.session.netns().map(Netns::id);
    spaces
        .list
        .retain(|space| id(space).is_none_or(|id| !found.left.contains(&id)));
    for (renamed, label) in &found.relabelled {
        for space in spaces.list.iter_mut() {
            if id(space) == Some(*renamed) {
                space.label = Some(label.clone());
            }
        }
    }
    for ns in found.joined {
        let label = ns.name().to_string();
        match Session::in_netns(&ns)
            .map_err(Failure::from)
            .and_then(|session| space(Some(label.clone()), session, plan))
        {
            Ok(space) => spaces.list.push(space),
            Err(failure) => eprintln!(
                "tcpdrop: not watching network namespace {label}: {}",
                failure.message
            ),
        }
    }
    spaces.unreached = unreached_line(&found.denied, follower.entered(), &found.hidden);
}

/// "could not enter 3 of 4 network namespaces: entering a network
/// namespace needs CAP_SYS_ADMIN: run as root", and how many processes'
/// namespaces could not be told, and why; `None` when every one was
/// reached.
fn unreached_line(denied: &[Error], entered: usize, hidden: &ProcRefusals) -> Option<String> {
    let mut parts = Vec::new();
    if !denied.is_empty() {
        let mut reasons: Vec<&str> = Vec::new();
        for err in denied {
            if let Error::NamespaceDenied { reason, .. } = err {
                if !reasons.contains(&reason.as_str()) {
                    reasons.push(reason);
                }
            }
        }
        parts.push(format!(
            "could not enter {} of {} network namespaces: {}: run as root",
            denied.len(),
            denied.len().saturating_add(entered),
            reasons.join("; ")
        ));
    }
    let count = hidden.count();
    if count > 0 {
        parts.push(format!(
            "could not see which network namespace {count} {} in: {}",
            if count == 1 {
                "process is"
            } else {
                "processes are"
            },
            hidden.reason("/proc/PID/ns/net")
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The connections `query` selects, narrowed by a filter target in the
/// kernel (the other targets are applied by [`targeted`]).
pub(crate) fn select(
    session: &mut Session,
    target: &Target,
    query: &Query,
) -> Result<Vec<Connection>, Error> {
    match target {
        Target::Filter(filter) => session.list_matching(query, filter),
        _ => session.list(query),
    }
}

/// Whether the positional words select `c`.
pub(crate) fn targeted(target: &Target, c: &Connection) -> bool {
    match target {
        Target::Everything => true,
        Target::Tuples(tuples) => tuples.iter().any(|(l, r)| c.has_tuple(l, r)),
        Target::Filter(filter) => filter.matches(c),
    }
}

/// A typed end as a socket address, its `%scope` looked up in the session's
/// namespace.
pub(crate) fn socket_addr(session: &Session, end: &tuple::Endpoint) -> Result<SocketAddr, Failure> {
    Ok(match end.ip {
        IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, end.port)),
        IpAddr::V6(ip) => {
            let scope = match &end.scope {
                None => 0,
                Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s
                    .parse()
                    .ok()
                    .filter(|&index| session.interface_name(index).is_some())
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "%{s}: no interface has index {s} in this network namespace \
                             (ip link lists them; or give the name, as %eth0)"
                        ))
                    })?,
                Some(name) => session.interface_index(name).map_err(Failure::from)?,
            };
            SocketAddr::V6(SocketAddrV6::new(ip, end.port, 0, scope))
        }
    })
}
