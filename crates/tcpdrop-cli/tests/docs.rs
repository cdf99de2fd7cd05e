//! The manual page and the shell completions, generated from the argument
//! definitions: every option documented, with an example.

use std::process::Command;

use crate::util::tcpdrop;

/// The long options `tcpdrop --help` lists.
fn long_options() -> Vec<String> {
    let help = tcpdrop(&["--help"]);
    assert_eq!(help.code, 0);
    let mut options: Vec<String> = help
        .stdout
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == '=')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .collect();
    options.sort();
    options.dedup();
    assert!(options.len() >= 18, "{options:?}");
    options
}

#[test]
fn the_man_page_documents_every_option_with_an_example() {
    let run = tcpdrop(&["--generate", "man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let roff = run.stdout;
    assert!(roff.contains(".TH tcpdrop 8"), "not a section 8 page");
    let dir = std::env::temp_dir().join(format!("tcpdrop-man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("tcpdrop.8");
    std::fs::write(&page, &roff).unwrap();
    // Rendered by man(1) where it is installed; else the roff itself.
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).replace("\u{2010}", "-"))
        .unwrap_or_else(|| roff.replace("\\-", "-"));
    let _ = std::fs::remove_dir_all(&dir);
    for option in long_options() {
        if option == "--help" || option == "--version" {
            continue;
        }
        // The option's own entry: a line that starts with it (`--json`) or
        // with its short form (`-l, --list`).
        let at = rendered
            .lines()
            .scan(0usize, |offset, line| {
                let start = *offset;
                *offset += line.len() + 1;
                Some((start, line.trim_start()))
            })
            .find(|(_, line)| {
                let heading = line.split_once(", ").map_or(*line, |(short, rest)| {
                    if short.len() == 2 && short.starts_with('-') {
                        rest
                    } else {
                        line
                    }
                });
                heading
                    .strip_prefix(option.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '<', '[']))
            })
            .map(|(start, _)| start)
            .unwrap_or_else(|| panic!("{option} has no entry in the man page"));
        let after = &rendered[at..];
        let example = after.find("Example: tcpdrop").unwrap_or(usize::MAX);
        assert!(example < 800, "{option} has no example close by");
    }
    for word in ["EXIT STATUS", "--all-netns", "NO_COLOR"] {
        assert!(rendered.contains(word), "{word} missing");
    }
    assert!(
        !rendered.contains("--generate"),
        "the hidden option is documented"
    );
}

#[test]
fn completions_generate_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish"] {
        let run = tcpdrop(&["--generate", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        // fish writes `-l all-netns`, the others `--all-netns`.
        for option in ["all-netns", "process", "watch", "uid", "count"] {
            assert!(run.stdout.contains(option), "{shell} lacks {option}");
        }
    }
    // The bash script is valid bash.
    let run = tcpdrop(&["--generate", "bash"]);
    let dir = std::env::temp_dir().join(format!("tcpdrop-bash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("tcpdrop.bash");
    std::fs::write(&script, &run.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(check.success(), "bash -n rejects the completion script");
    let bad = tcpdrop(&["--generate", "tcsh"]);
    assert_eq!(bad.code, 2);
}

/// What bash offers after `tcpdrop WORDS... CUR`, by the generated
/// completion function itself.
fn bash_completes(words: &[&str], cur: &str) -> Vec<String> {
    let run = tcpdrop(&["--generate", "bash"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = std::env::temp_dir().join(format!("tcpdrop-complete-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("tcpdrop.bash");
    std::fs::write(&script, &run.stdout).unwrap();
    let prev = words.last().copied().unwrap_or("tcpdrop");
    // COMP_WORDS as bash sets it; _tcpdrop CMD CUR PREV, as complete calls it.
    let call = format!(
        "source '{}'; COMP_WORDS=(tcpdrop {} '{cur}'); COMP_CWORD={}; \
         _tcpdrop tcpdrop '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        words.len() + 1
    );
    let out = Command::new("bash").arg("-c").arg(&call).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_states_and_methods_not_file_names() {
    let states = [
        "established",
        "syn-sent",
        "syn-recv",
        "fin-wait-1",
        "fin-wait-2",
        "time-wait",
        "closed",
        "close-wait",
        "last-ack",
        "listening",
        "closing",
        "connected",
        "synchronized",
        "bucket",
        "big",
        "all",
    ];
    for option in ["-s", "--state"] {
        let mut offered = bash_completes(&[option], "");
        offered.sort();
        let mut want: Vec<String> = states.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(offered, want, "{option}");
    }
    assert_eq!(bash_completes(&["-l", "-s"], "ti"), ["time-wait"]);
    assert_eq!(
        bash_completes(&["--method"], ""),
        ["auto", "destroy", "owner", "inject", "bpf"]
    );
    // Still any state ss and RFC 793 spell, checked by tcpdrop itself.
    let run = tcpdrop(&["-l", "-s", "LISTEN", "-s", "syn_received"]);
    assert!(run.code <= 1, "{}", run.stderr);
    let run = tcpdrop(&["-l", "-s", "establishd"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("unknown state 'establishd': use established"),
        "{}",
        run.stderr
    );
}

/// The workspace's README.
fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    std::fs::read_to_string(path).expect("README.md")
}

#[test]
fn every_json_field_is_documented_in_help_and_readme() {
    let help = tcpdrop(&["--help"]).stdout;
    let readme = readme();
    for field in [
        "family",
        "state",
        "local",
        "remote",
        "mapped",
        "uid",
        "inode",
        "cookie",
        "recv_q",
        "send_q",
        "result",
        "error",
        "reason",
        "collateral",
        "owners",
        "netns",
    ] {
        assert!(
            help.contains(field),
            "--help does not name JSON field {field}"
        );
        assert!(
            readme.contains(&format!("`{field}`"))
                || readme.contains(&format!("`{field}: "))
                || readme.contains(&format!("`\"{field}\"")),
            "README does not name JSON field {field}"
        );
    }
}

#[test]
fn every_exit_status_is_in_the_readme() {
    let readme = readme();
    for code in 0..=6 {
        assert!(
            readme.contains(&format!("\n| {code} | ")),
            "README lacks exit status {code}"
        );
    }
}

#[test]
fn the_readme_comparison_with_ss_cites_tests_that_exist() {
    let readme = readme();
    let section = readme
        .split("## Compared with `ss -K`")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has its comparison with ss -K");
    let source = include_str!("vs_ss.rs");
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(rows.len() >= 9, "{rows:?}");
    let mut cited = 0;
    // The header first; the separator (|---) is not a row here.
    for row in rows.iter().skip(1) {
        let names: Vec<&str> = row
            .split('`')
            .filter_map(|w| w.strip_prefix("vs_ss::"))
            .collect();
        assert!(
            !names.is_empty() || row.contains("bench/run") || row.contains("UML"),
            "a row that nothing checks: {row}"
        );
        for name in names {
            assert!(
                source.contains(&format!("\nfn {name}() {{")),
                "the README cites vs_ss::{name}, which does not exist"
            );
            cited += 1;
        }
    }
    assert!(cited >= 6, "{cited} tests cited");
}

#[test]
fn the_man_page_has_exit_status_and_see_also_sections() {
    let run = tcpdrop(&["--generate", "man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let roff = run.stdout;
    assert!(
        !roff.contains(".SH EXTRA"),
        "clap's catch-all EXTRA section is back"
    );
    let status = roff
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .expect("an EXIT STATUS section");
    let status = status.split(".SH").next().unwrap_or_default();
    for code in 0..=6 {
        assert!(
            status.contains(&format!("\n  {code}  ")),
            "exit status {code} is not in EXIT STATUS:\n{status}"
        );
    }
    let see_also = roff.split(".SH \"SEE ALSO\"").nth(1).expect("SEE ALSO");
    for page in [".BR ss (8)", ".BR tcpkill (8)"] {
        assert!(see_also.contains(page), "{page} not in SEE ALSO");
    }
    assert!(roff.contains(".SH \"EXAMPLES\""));
}

/// `make install` installs the command stripped (the release profile keeps
/// line tables for profiling; 18 MB of them), with its manual page and
/// completions. It installs a copy of the binary this test run built, from
/// a target directory of its own with `CARGO=true` (no build): building
/// into the shared one would replace the binary the other tests run, which
/// test builds give features a plain build lacks.
#[test]
fn make_install_installs_a_stripped_binary_its_man_page_and_completions() {
    if !nstest::require_tool("strip", "binutils") || !nstest::require_tool("readelf", "binutils") {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("tcpdrop-install-{}", std::process::id()));
    let target = scratch.join("target");
    let prefix = scratch.join("prefix");
    std::fs::create_dir_all(target.join("debug")).unwrap();
    let exe = target.join("debug/tcpdrop");
    std::fs::copy(env!("CARGO_BIN_EXE_tcpdrop"), &exe).unwrap();
    let out = Command::new("make")
        .arg("-C")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(["install", "PROFILE=debug", "CARGO=true"])
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("CARGO_TARGET_DIR={}", target.display()))
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let installed = prefix.join("bin/tcpdrop");
    let sections = Command::new("readelf")
        .arg("-S")
        .arg(&installed)
        .output()
        .unwrap();
    let sections = String::from_utf8_lossy(&sections.stdout);
    assert!(sections.contains(".text"), "{sections}");
    assert!(!sections.contains(".debug_info"), "debug info installed");
    assert!(!sections.contains(".symtab"), "not stripped");
    let built = std::fs::metadata(&exe).unwrap().len();
    let size = std::fs::metadata(&installed).unwrap().len();
    assert!(size < built, "{size} bytes installed, {built} built");
    for file in [
        "share/man/man8/tcpdrop.8",
        "share/bash-completion/completions/tcpdrop",
        "share/zsh/site-functions/_tcpdrop",
        "share/fish/vendor_completions.d/tcpdrop.fish",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    let run = Command::new(&installed).arg("--version").output().unwrap();
    assert!(run.status.success());
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The README's section on installs with file capabilities: each claim in
/// its table, and its group recipe, names a test of `file_caps.rs` that
/// exists.
#[test]
fn the_readme_file_capabilities_section_cites_tests_that_exist() {
    let readme = readme();
    let section = readme
        .split("## Installing with file capabilities")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has its section on file capabilities");
    let source = include_str!("file_caps.rs");
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(rows.len() >= 6, "{rows:?}");
    for row in rows.iter().skip(1) {
        assert!(
            row.contains("`file_caps::"),
            "a row that nothing checks: {row}"
        );
    }
    let mut cited = 0;
    for name in section
        .split('`')
        .filter_map(|w| w.strip_prefix("file_caps::"))
    {
        assert!(
            source.contains(&format!("\nfn {name}() {{")),
            "the README cites file_caps::{name}, which does not exist"
        );
        cited += 1;
    }
    assert!(cited >= 7, "{cited} tests cited");
    for capability in [
        "cap_net_admin",
        "cap_net_raw",
        "cap_sys_ptrace",
        "cap_dac_read_search",
        "cap_sys_admin",
    ] {
        assert!(section.contains(&format!("`{capability}`")), "{capability}");
    }
}
