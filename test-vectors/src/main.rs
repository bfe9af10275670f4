//! `test-vectors verify FILE...`: checks official MLS vector files and prints one line per file.

use std::path::PathBuf;
use std::process::ExitCode;

use test_vectors::{check_file, Kind, Outcome};

fn usage() -> ExitCode {
    eprintln!("usage: test-vectors verify [--kind STEM] FILE...");
    eprintln!("       test-vectors verify --all   (every official file in $MLS_TEST_VECTORS or ../shared/test-vectors)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("verify") {
        return usage();
    }
    let mut kind = None;
    let mut files: Vec<PathBuf> = Vec::new();
    let rest: Vec<String> = args.collect();
    let mut i = 0;
    while i < rest.len() {
        match rest[i].as_str() {
            "--kind" => {
                let Some(stem) = rest.get(i + 1) else {
                    return usage();
                };
                match Kind::from_stem(stem) {
                    Some(k) => kind = Some(k),
                    None => {
                        eprintln!("unknown kind {stem}");
                        return usage();
                    }
                }
                i += 1;
            }
            "--all" => {
                let dir = test_vectors::vector_dir();
                let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default();
                found.retain(|p| {
                    p.extension().is_some_and(|e| e == "json") && Kind::from_path(p).is_some()
                });
                found.sort();
                files.extend(found);
            }
            f => files.push(PathBuf::from(f)),
        }
        i += 1;
    }
    if files.is_empty() {
        return usage();
    }
    let mut ok = true;
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match check_file(file, kind) {
            Ok(Outcome::Checked { passed, failures }) => {
                println!("{name}: {passed} passed, {} failed", failures.len());
                for f in failures.iter().take(20) {
                    println!("  {f}");
                }
                ok &= failures.is_empty();
            }
            Ok(Outcome::Unsupported) => {
                println!("{name}: not checked (layout not supported yet)");
                ok = false;
            }
            Err(e) => {
                println!("{name}: error: {e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
