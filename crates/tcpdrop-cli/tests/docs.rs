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
    for word in ["Exit status:", "--all-netns", "NO_COLOR"] {
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
