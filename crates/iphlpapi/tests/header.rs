//! `iphlpapi.h` compiles cleanly everywhere it must, and its structures are
//! the Rust ones byte for byte.

use std::collections::HashMap;

use crate::util::{c_source, compile, have, include_dir, program, run, scratch, Link, WARNINGS};

/// (compiler, language flags) for every language mode the header supports.
const MODES: &[(&str, &[&str])] = &[
    ("cc", &["-std=c99"]),
    ("cc", &["-std=c11"]),
    ("cc", &["-std=gnu11"]),
    ("c++", &["-x", "c++", "-std=c++11"]),
    ("c++", &["-x", "c++", "-std=c++17"]),
    ("clang", &["-std=c11"]),
    ("clang++", &["-x", "c++", "-std=c++20"]),
];

#[test]
fn the_header_compiles_next_to_the_socket_headers_as_c99_c11_and_cpp() {
    for (i, (compiler, lang)) in MODES.iter().enumerate() {
        if !have(compiler) {
            continue;
        }
        let mut args: Vec<String> = lang.iter().map(|s| s.to_string()).collect();
        args.extend(WARNINGS.iter().map(|s| s.to_string()));
        args.push(format!("-I{}", include_dir().display()));
        args.push("-c".into());
        args.push(c_source("header_check").display().to_string());
        args.push("-o".into());
        args.push(
            scratch()
                .join(format!("header_check{i}.o"))
                .display()
                .to_string(),
        );
        compile(compiler, &args);
    }
}

fn c_layout(compiler: &str, lang: &[&str], tag: &str) -> HashMap<String, usize> {
    let exe = scratch().join(format!("layout-{tag}"));
    let mut args: Vec<String> = lang.iter().map(|s| s.to_string()).collect();
    args.extend(WARNINGS.iter().map(|s| s.to_string()));
    args.push(format!("-I{}", include_dir().display()));
    args.push(c_source("layout").display().to_string());
    args.push("-o".into());
    args.push(exe.display().to_string());
    compile(compiler, &args);
    run(&exe, &[])
        .lines()
        .map(|line| {
            let (what, value) = line.rsplit_once(' ').expect("`WHAT VALUE` line");
            (what.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

#[test]
fn every_struct_size_and_field_offset_of_the_header_matches_the_rust_definitions() {
    for (i, (compiler, lang)) in MODES.iter().enumerate() {
        if !have(compiler) {
            continue;
        }
        let c = c_layout(compiler, lang, &i.to_string());
        for fact in iphlpapi::LAYOUT {
            assert_eq!(
                c.get(fact.what),
                Some(&fact.value),
                "{} in {compiler} {lang:?}",
                fact.what
            );
        }
        for (what, value) in [
            ("sizeof(MIB_TCPROW_W2K)", 20),
            ("sizeof(IN6_ADDR)", 16),
            ("sizeof(struct in6_addr)", 16),
            ("sizeof(DWORD)", 4),
            ("sizeof(ULONG)", 4),
            ("sizeof(MIB_TCP_STATE)", 4),
            ("sizeof(TCP_TABLE_CLASS)", 4),
            ("sizeof(LARGE_INTEGER)", 8),
            ("sizeof(WCHAR)", 2),
            ("sizeof(MIB_TCPSTATS_LH)", 60),
        ] {
            assert_eq!(c.get(what), Some(&value), "{what} in {compiler} {lang:?}");
        }
        // Nothing printed that the Rust side does not pin, but those ten.
        assert_eq!(c.len(), iphlpapi::LAYOUT.len() + 10);
    }
}

#[test]
fn format_error_gives_the_windows_texts_and_what_317_means() {
    let codes = [
        "0", "5", "31", "50", "65", "87", "122", "317", "1168", "4242",
    ];
    let out = run(&program("format", Link::Shared), &codes);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), codes.len(), "{out}");
    for (line, code) in lines.iter().zip(codes) {
        let code: u32 = code.parse().unwrap();
        let want = format!("{code} {}", iphlpapi::Win32Error(code).meaning());
        assert_eq!(*line, want);
        assert!(!line.contains("%1"), "{line}");
    }
    assert_eq!(lines[1], "5 Access is denied.");
}
