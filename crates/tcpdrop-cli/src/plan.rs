//! What the options ask for, read and checked before anything is opened:
//! the plan (one for both sources: the sockets of this host's namespaces
//! and, with `--forwarded`, the connections it forwards), and the places
//! it runs in (each with its source and its selection).

use std::time::Duration;

use ssfilter::names::{HostAddrs, Names};
use ssfilter::Filter;
use tcpdrop::forwarded::{Forwarded, Tracking};
use tcpdrop::netns::NetnsFollower;
use tcpdrop::procs::ProcRefusals;
use tcpdrop::{Error, Family, Netns, Query, Selection, Session, State, StateSet, What};

use crate::cli::Cli;
use crate::exit_codes;
use crate::failure::Failure;
use crate::owners::OwnerFilter;
use crate::{tuple, watch};

/// What the options decided, the same in every namespace.
pub(crate) struct Plan {
    /// The connections this host forwards (`--forwarded`), not its own.
    pub(crate) forwarded: bool,
    /// What the words and options choose: named tuples as typed (each
    /// `%scope` is looked up in each namespace), a filter, or everything
    /// the query admits; listeners only when `listening` was named.
    pub(crate) selection: Selection,
    pub(crate) owners: OwnerFilter,
    /// `-p`: show the owning processes.
    pub(crate) show_owners: bool,
    /// `--method`: one way to abort, or `None` for auto.
    pub(crate) method: Option<tcpdrop::Method>,
    /// What each host name in the words stood for, to be shown before
    /// anything is done.
    pub(crate) resolved: Vec<HostAddrs>,
    /// `--watch`: how it runs.
    pub(crate) watch: Option<WatchPlan>,
}

/// Where connections are taken from.
pub(crate) enum Source {
    /// The sockets of one network namespace.
    Local(Session),
    /// The connections this host forwards.
    Forwarded(Forwarded),
}

/// One place to work in: a network namespace's sockets, or what this host
/// forwards.
pub(crate) struct Space {
    /// Its name or path, when namespaces were named (`-N`, `--all-netns`).
    pub(crate) label: Option<String>,
    pub(crate) source: Source,
    /// The plan's selection, its `%scope`s looked up here.
    pub(crate) selection: Selection,
}

/// The places to work in, and what `--all-netns` could not reach.
pub(crate) struct Spaces {
    pub(crate) list: Vec<Space>,
    /// The namespaces found but not entered, and the processes whose
    /// namespace could not be told: one line saying how many and why.
    pub(crate) unreached: Option<String>,
    /// `--watch --all-netns`: what finds the namespaces made and removed
    /// since ([`follow_spaces`]).
    pub(crate) follow: Option<NetnsFollower>,
}

/// One network namespace, with a session in it.
pub(crate) struct Namespace {
    /// Its name or path, when namespaces were named (`-N`, `--all-netns`).
    pub(crate) label: Option<String>,
    pub(crate) session: Session,
}

/// The network namespaces to work in, and what `--all-netns` could not
/// reach (see [`Spaces::unreached`], [`Spaces::follow`]).
pub(crate) struct Namespaces {
    pub(crate) list: Vec<Namespace>,
    pub(crate) unreached: Option<String>,
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
    let mut watch = None;
    if cli.forwarded {
        watch = watch_plan(cli)?;
    }
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::Ipv4),
        (_, true) => Some(Family::Ipv6),
        _ => None,
    };
    let (states, listeners_named) = parse_states(&cli.states)?;
    let names = Names::system();
    let (what, resolved) = if let Some(file) = &cli.file {
        if !cli.args.is_empty() {
            return Err(Failure::usage(
                "-f reads the connections from FILE: give no CONNECTION or FILTER with it",
            ));
        }
        let (tuples, resolved) = tuple::read_file(file, names).map_err(Failure::usage)?;
        (What::Named(tuples), resolved)
    } else if tuple::is_filter(&cli.args) {
        let (filter, resolved) =
            Filter::parse_with(&cli.args, names).map_err(|err| Failure::usage(err.to_string()))?;
        (What::Matching(filter), resolved)
    } else if !cli.args.is_empty() {
        let (tuple, resolved) = tuple::parse_with(&cli.args, names).map_err(Failure::usage)?;
        (What::Named(vec![tuple]), resolved)
    } else {
        (What::All, Vec::new())
    };
    let named = !matches!(what, What::All);
    let owners = OwnerFilter::new(&cli.pid, &cli.process, &cli.uid).map_err(Failure::usage)?;
    if named && cli.all {
        return Err(Failure::usage(
            "-a drops everything: give it without a connection or filter",
        ));
    }
    // A dry run refuses what the real run would refuse.
    if !cli.list && !named && !cli.all && states.is_none() && !owners.is_active() {
        return Err(Failure::usage(if cli.forwarded {
            "nothing to drop: name the connection (tcpdrop --forwarded ADDR:PORT ADDR:PORT), \
             give a filter, -s STATE or -a (-l lists what is forwarded)"
        } else {
            "nothing to drop: name a connection (LADDR LPORT RADDR RPORT), give a filter, \
             -s STATE, --pid, --process, --uid or -a (-l lists everything)"
        }));
    }
    if cli.list && (cli.dry_run || cli.all) {
        return Err(Failure::usage("-l lists; it does not go with -a or -n"));
    }
    let tuples = matches!(what, What::Named(_));
    if cli.forwarded && cli.watch.is_some() && tuples {
        return Err(Failure::usage(
            "--watch with --forwarded needs a filter or -a: connection tracking shows what \
             appears (e.g. tcpdrop --forwarded --watch 'dport = :443')",
        ));
    }
    let filter = match &what {
        What::Matching(filter) => Some(filter),
        _ => None,
    };
    // A filter's own `state listening` asks for listeners as -s does.
    let listeners = listeners_named || filter.is_some_and(Filter::names_listening);
    let query = if cli.forwarded {
        forwarded_query(cli, family, states, filter, tuples)
    } else {
        let mut wanted = states.unwrap_or(StateSet::ALL);
        if let Some(filter) = filter {
            wanted = wanted.intersection(filter.states());
        }
        Query {
            family,
            states: wanted,
        }
    };
    let selection = match what {
        What::Matching(filter) => Selection::matching(query, filter),
        What::Named(tuples) => Selection::named(tuples).query(query),
        What::All | What::Tuples(_) => Selection::all(query),
    };
    if !cli.forwarded {
        watch = watch_plan(cli)?;
    }
    Ok(Plan {
        forwarded: cli.forwarded,
        selection: selection.listeners(listeners),
        owners,
        show_owners: cli.processes,
        method: cli.method.as_deref().and_then(method_named),
        resolved,
        watch,
    })
}

/// What `--forwarded` takes from connection tracking: a connection that
/// ended (TIME-WAIT, CLOSE in conntrack) has no ends to reset, so it is
/// left out unless asked for by state (or listed). A named connection is
/// taken as conntrack knows it, whatever its state and family.
fn forwarded_query(
    cli: &Cli,
    family: Option<Family>,
    named_states: Option<StateSet>,
    filter: Option<&Filter>,
    tuples: bool,
) -> Query {
    if tuples {
        return Query::all();
    }
    let explicit = filter.and_then(Filter::explicit_states);
    let mut states = match (named_states, explicit) {
        (Some(named), _) => named,
        (None, Some(filter)) => filter,
        (None, None) if cli.list => StateSet::ALL,
        (None, None) => StateSet::ALL
            .without(State::TimeWait)
            .without(State::Closed),
    };
    if let (Some(filter), Some(_)) = (filter, named_states) {
        states = states.intersection(filter.states());
    }
    Query { family, states }
}

/// `--watch`, `--count` and `--timeout` read.
fn watch_plan(cli: &Cli) -> Result<Option<WatchPlan>, Failure> {
    let count_zero = || Failure::usage("--count 0 would stop before starting: give 1 or more");
    // The forwarded form says so first (its order of old).
    if cli.forwarded && cli.count == Some(0) {
        return Err(count_zero());
    }
    let watch = match &cli.watch {
        None => None,
        Some(interval) => Some(WatchPlan {
            interval: watch::parse_duration(interval)
                .map_err(|e| Failure::usage(format!("--watch: {e}")))?,
            count: cli.count,
            timeout: cli
                .timeout
                .as_deref()
                .map(watch::parse_duration)
                .transpose()
                .map_err(|e| Failure::usage(format!("--timeout: {e}")))?,
        }),
    };
    if cli.count == Some(0) {
        return Err(count_zero());
    }
    Ok(watch)
}

/// The places to work in, each with its source and its selection. With
/// `--all-netns`, those that could not be entered are left out and said
/// ([`Spaces::unreached`]); if none could be, that is the failure (exit 4).
/// With `--forwarded`, the one place is what this host forwards; a filter
/// or `-a` needs connection tracking active (exit 5 where it is not).
pub(crate) fn open_spaces(cli: &Cli, plan: &Plan) -> Result<Spaces, Failure> {
    if plan.forwarded {
        let mut fw = Forwarded::new()?;
        if !matches!(plan.selection.what(), What::Named(_)) {
            require_tracking(&mut fw)?;
        }
        let space = Space {
            label: None,
            source: Source::Forwarded(fw),
            selection: plan.selection.clone(),
        };
        return Ok(Spaces {
            list: vec![space],
            unreached: None,
            follow: None,
        });
    }
    let Namespaces {
        list,
        unreached,
        follow,
    } = open_namespaces(cli)?;
    let list = list
        .into_iter()
        .map(|Namespace { label, session }| space(label, session, plan))
        .collect::<Result<_, Failure>>()?;
    Ok(Spaces {
        list,
        unreached,
        follow,
    })
}

/// Refuse, in one line, where connection tracking cannot list what is
/// forwarded.
fn require_tracking(fw: &mut Forwarded) -> Result<(), Failure> {
    let v4 = fw.tracking(Family::Ipv4)?;
    let v6 = fw.tracking(Family::Ipv6).unwrap_or(v4);
    if v4 == Tracking::Inactive && v6 == Tracking::Inactive {
        return Err(Failure {
            code: exit_codes::UNSUPPORTED,
            message: "connection tracking is not active for forwarded traffic here, so the \
                      connections this host forwards cannot be listed or chosen by a filter; \
                      name one by its two ends: tcpdrop --forwarded ADDR:PORT ADDR:PORT"
                .to_string(),
        });
    }
    Ok(())
}

/// The network namespaces to work in, each with its session: the caller's,
/// `-N`'s, or with `--all-netns` every one that could be entered.
pub(crate) fn open_namespaces(cli: &Cli) -> Result<Namespaces, Failure> {
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
        .map(|(label, session)| Namespace { label, session })
        .collect();
    Ok(Namespaces {
        list,
        unreached,
        follow,
    })
}

/// One namespace's space: its session, and the plan's selection there (a
/// `%scope` is looked up in it).
fn space(label: Option<String>, session: Session, plan: &Plan) -> Result<Space, Failure> {
    let selection = plan.selection.clone().resolved_in(&session)?;
    Ok(Space {
        label,
        source: Source::Local(session),
        selection,
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
    let id = |space: &Space| match &space.source {
        Source::Local(session) => session.netns().map(Netns::id),
        Source::Forwarded(_) => None,
    };
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
