//! Built-in knowledge of programs: which options take values, how deep subcommands go, what
//! positional arguments are. A pack's `programs:` section extends or replaces entries.

use crate::policy::source::ProgramSource;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn spec(value_options: &[&str], depth: usize, args: &str, long_single_dash: bool) -> ProgramSource {
    ProgramSource {
        value_options: s(value_options),
        subcommand_depth: Some(depth),
        long_single_dash: Some(long_single_dash),
        args: Some(args.to_string()),
        ..Default::default()
    }
}

/// The built-in entry for `program`, if any.
pub fn builtin(program: &str) -> Option<ProgramSource> {
    Some(match program {
        "git" => spec(
            &[
                "-C",
                "-c",
                "--git-dir",
                "--work-tree",
                "--namespace",
                "--exec-path",
                "--config-env",
            ],
            1,
            "none",
            false,
        )
        .with_subcommand_args(&[("add", "read"), ("hash-object", "read")]),
        "kubectl" | "oc" => spec(
            &[
                "-n",
                "--namespace",
                "--context",
                "--kubeconfig",
                "--cluster",
                "--user",
                "-l",
                "--selector",
                "-o",
                "--output",
                "-c",
                "--container",
                "-f",
                "--filename",
                "-s",
                "--server",
                "--token",
                "--as",
            ],
            // two words: `rollout undo`, `auth reconcile`, `delete ns`
            2,
            "none",
            false,
        ),
        "helm" => spec(
            &[
                "-n",
                "--namespace",
                "--kube-context",
                "--kubeconfig",
                "-f",
                "--values",
                "--set",
                "--version",
                "-o",
                "--output",
            ],
            1,
            "none",
            false,
        ),
        "terraform" | "tofu" | "terragrunt" => spec(&["-chdir"], 2, "none", true),
        "pulumi" => spec(&["-s", "--stack", "-C", "--cwd"], 1, "none", false),
        "cdk" | "cdktf" => spec(
            &[
                "-a",
                "--app",
                "-c",
                "--context",
                "--profile",
                "-o",
                "--output",
            ],
            1,
            "none",
            false,
        ),
        "powershell" | "pwsh" => spec(&[], 0, "none", true),
        "aws" => spec(
            &[
                "--profile",
                "--region",
                "--output",
                "--endpoint-url",
                "--query",
                "--color",
                "--cli-input-json",
            ],
            2,
            "none",
            false,
        ),
        "gcloud" => spec(
            &[
                "--project",
                "--account",
                "--configuration",
                "--format",
                "--zone",
                "--region",
            ],
            3,
            "none",
            false,
        ),
        "az" => spec(
            &[
                "-g",
                "--resource-group",
                "-n",
                "--name",
                "--subscription",
                "-o",
                "--output",
                "--query",
            ],
            3,
            "none",
            false,
        ),
        "gsutil" => spec(&["-o", "-h", "-p"], 1, "none", false),
        "docker" | "podman" => spec(
            &[
                "-H",
                "--host",
                "--context",
                "-c",
                "--config",
                "-l",
                "--log-level",
            ],
            2,
            "none",
            false,
        ),
        // files given to a gist or a release leave the machine
        "gh" | "glab" => ProgramSource {
            read_options: s(&["--body-file"]),
            ..spec(&["-R", "--repo", "--body-file", "--desc"], 2, "none", false)
        }
        .with_subcommand_args(&[
            ("gist create", "read"),
            ("gist new", "read"),
            ("gist edit", "read_after_first"),
            ("release upload", "read_after_first"),
            ("release create", "read_after_first"),
            ("snippet create", "read"),
        ]),
        "npm" | "pnpm" | "yarn" | "bun" | "npx" | "pip" | "pip3" | "uv" | "poetry" | "cargo"
        | "go" | "make" | "gradle" | "mvn" | "dotnet" | "rustup" | "brew" | "apt" | "apt-get"
        | "dnf" | "yum" | "systemctl" | "launchctl" | "service" | "deno" => spec(
            &[
                "-C",
                "--prefix",
                "-f",
                "--file",
                "-p",
                "--package",
                "--manifest-path",
                // package registries (`npm --registry URL publish`, `cargo --registry r`)
                "--registry",
                "--index",
                "--tag",
                "--otp",
                "--workspace",
                "--dir",
                "--filter",
            ],
            1,
            "none",
            false,
        ),
        "rm" | "rmdir" | "unlink" | "shred" | "srm" | "trash" | "del" | "erase" | "rd" => {
            spec(&[], 0, "delete", false)
        }
        "cp" | "scp" | "rsync" | "install" | "ditto" | "copy" | "xcopy" | "robocopy" => spec(
            &[
                "-e",
                "-t",
                "--target-directory",
                "-P",
                "-i",
                "-o",
                "-m",
                "--mode",
            ],
            0,
            "copy",
            false,
        ),
        "mv" | "move" | "ren" | "rename" => spec(
            &["-t", "--target-directory", "-S", "--suffix"],
            0,
            "move",
            false,
        ),
        // `ln [-s] TARGET LINK`: the link is written, the target only named
        "ln" => spec(
            &["-t", "--target-directory", "-S", "--suffix"],
            0,
            "copy",
            false,
        ),
        "touch" | "mkdir" | "truncate" | "tee" | "mkfifo" => spec(
            &[
                "-s",
                "--size",
                "-m",
                "--mode",
                "-r",
                "--reference",
                "-t",
                "-d",
                "--date",
            ],
            0,
            "write",
            false,
        ),
        "chmod" | "chown" | "chgrp" | "chattr" | "setfacl" => {
            spec(&["--reference"], 0, "write_after_first", false)
        }
        "cat" | "less" | "more" | "head" | "tail" | "bat" | "base64" | "base32" | "xxd" | "od"
        | "hexdump" | "strings" | "nl" | "wc" | "sort" | "uniq" | "diff" | "cmp" | "md5sum"
        | "sha1sum" | "sha256sum" | "shasum" | "vi" | "vim" | "nvim" | "nano" | "emacs"
        | "code" | "view" | "source" | "." | "gpg" | "zip" | "gzip" | "bzip2" | "xz" | "zcat"
        | "type" | "get-content" | "gc" | "tac" | "rev" | "fold" | "cut" | "paste" | "column"
        | "iconv" | "dos2unix" | "python" | "python3" | "python2" | "node" | "ruby" | "perl"
        | "php" | "sh" | "bash" | "zsh" | "dash" | "ksh" | "fish" | "jq" | "yq" => {
            let mut p = spec(
                &[
                    "-n", "-c", "-s", "-w", "-t", "-k", "-o", "-f", "--output", "-i", "-d",
                ],
                0,
                "read",
                false,
            );
            if matches!(program, "tail" | "head") {
                p.value_options = s(&["-n", "-c", "--lines", "--bytes", "-s"]);
            }
            if matches!(program, "jq" | "yq") {
                p.args = Some("read_after_first".into());
                p.value_options = s(&["--arg", "--argjson", "-f", "--from-file", "--indent"]);
            }
            if matches!(
                program,
                "python"
                    | "python3"
                    | "python2"
                    | "node"
                    | "ruby"
                    | "perl"
                    | "php"
                    | "sh"
                    | "bash"
                    | "zsh"
                    | "dash"
                    | "ksh"
                    | "fish"
            ) {
                p.value_options = s(&["-m", "-W", "-X", "-O", "-o", "--rcfile", "--init-file"]);
                p.interpreter = Some(true);
            }
            if matches!(program, "base64" | "base32") {
                p.decoder = None;
            }
            if matches!(
                program,
                "sort" | "gpg" | "base64" | "zip" | "gzip" | "xz" | "bzip2"
            ) {
                p.write_options = s(&["-o", "--output"]);
            }
            p
        }
        // `openssl SUB -in f -out g`: one-dash long options
        "openssl" => ProgramSource {
            read_options: s(&[
                "-in",
                "-key",
                "-inkey",
                "-ca",
                "-cakey",
                "-cafile",
                "-config",
                "-extfile",
                "-signkey",
                "-certfile",
                "-kfile",
                "-passin",
                "-infiles",
            ]),
            write_options: s(&["-out", "-keyout"]),
            ..spec(
                &[
                    "-in",
                    "-out",
                    "-key",
                    "-keyout",
                    "-inkey",
                    "-passin",
                    "-passout",
                    "-config",
                    "-ca",
                    "-cakey",
                    "-cafile",
                    "-capath",
                    "-days",
                    "-newkey",
                    "-subj",
                    "-extfile",
                    "-extensions",
                    "-signkey",
                    "-certfile",
                    "-name",
                    "-connect",
                    "-servername",
                    "-sigopt",
                    "-pkeyopt",
                    "-algorithm",
                    "-md",
                    "-set_serial",
                    "-reqexts",
                    "-addext",
                    "-kdf",
                    "-iter",
                    "-pass",
                    "-k",
                    "-kfile",
                    "-cipher",
                    "-nameopt",
                    "-certopt",
                    "-inform",
                    "-outform",
                    "-keyform",
                    "-sigfile",
                    "-verify",
                    "-starttls",
                    "-proxy",
                ],
                1,
                "read",
                true,
            )
        },
        // `ssh-keygen -f FILE`: written when a key is made or changed, read by -l/-y/-e/…
        // (see `command.rs`)
        "ssh-keygen" => spec(
            &[
                "-f", "-t", "-b", "-C", "-N", "-P", "-O", "-I", "-n", "-V", "-z", "-s", "-a", "-E",
                "-m", "-Y", "-F", "-R", "-D", "-w", "-G", "-M", "-S", "-T", "-r", "-Z",
            ],
            0,
            "none",
            false,
        ),
        // the archive (`-f`) and the mode are worked out in `command.rs`
        "tar" | "bsdtar" => spec(
            &[
                "-f",
                "--file",
                "-C",
                "--directory",
                "-X",
                "--exclude-from",
                "--exclude",
                "-T",
                "--files-from",
            ],
            0,
            "read",
            false,
        ),
        "grep" | "egrep" | "fgrep" | "rg" | "ag" | "ack" | "awk" | "gawk" | "sed"
        | "select-string" => spec(
            &[
                "-e",
                "-f",
                "-m",
                "-A",
                "-B",
                "-C",
                "--include",
                "--exclude",
                "--exclude-dir",
                "-g",
                "--glob",
                "-t",
                "--type",
                "-F",
                "-v",
                "--max-count",
            ],
            0,
            "read_after_first",
            false,
        ),
        "curl" => ProgramSource {
            value_options: s(&[
                "-o",
                "--output",
                "-d",
                "--data",
                "--data-binary",
                "--data-raw",
                "--data-urlencode",
                "--data-ascii",
                "-F",
                "--form",
                "--form-string",
                "-T",
                "--upload-file",
                "-H",
                "--header",
                "-X",
                "--request",
                "-u",
                "--user",
                "-A",
                "--user-agent",
                "-e",
                "--referer",
                "--cert",
                "--key",
                "--cacert",
                "-K",
                "--config",
                "-b",
                "--cookie",
                "-c",
                "--cookie-jar",
                "-w",
                "--write-out",
                "-m",
                "--max-time",
                "--connect-timeout",
                "--retry",
                "-x",
                "--proxy",
                "--resolve",
                "--json",
                "-r",
                "--range",
                "-z",
                "--time-cond",
                "--limit-rate",
                "-Y",
                "-y",
                "--url",
                "-D",
                "--dump-header",
                "--trace",
                "--trace-ascii",
                "--stderr",
                "--libcurl",
                "--etag-save",
                "--output-dir",
            ]),
            write_options: s(&[
                "-o",
                "--output",
                "-c",
                "--cookie-jar",
                "-D",
                "--dump-header",
                "--trace",
                "--trace-ascii",
                "--stderr",
                "--libcurl",
                "--etag-save",
                "--output-dir",
            ]),
            subcommand_depth: Some(0),
            args: Some("none".into()),
            downloader: Some(true),
            ..Default::default()
        },
        "wget" => ProgramSource {
            value_options: s(&[
                "-O",
                "--output-document",
                "-o",
                "--output-file",
                "--post-file",
                "--post-data",
                "--header",
                "-P",
                "--directory-prefix",
                "-U",
                "--user-agent",
                "--body-file",
                "-i",
                "--input-file",
                "-a",
                "--append-output",
                "--save-cookies",
            ]),
            write_options: s(&[
                "-O",
                "--output-document",
                "-o",
                "--output-file",
                "-a",
                "--append-output",
                "-P",
                "--directory-prefix",
                "--save-cookies",
            ]),
            subcommand_depth: Some(0),
            args: Some("none".into()),
            downloader: Some(true),
            ..Default::default()
        },
        "http" | "https" | "xh" | "fetch" | "aria2c" | "iwr" | "invoke-webrequest" | "irm"
        | "invoke-restmethod" | "lwp-request" | "wget2" => ProgramSource {
            subcommand_depth: Some(0),
            args: Some("none".into()),
            downloader: Some(true),
            ..Default::default()
        },
        "psql" => ProgramSource {
            value_options: s(&[
                "-c",
                "--command",
                "-h",
                "--host",
                "-U",
                "--username",
                "-d",
                "--dbname",
                "-p",
                "--port",
                "-f",
                "--file",
                "-v",
                "--set",
                "-o",
            ]),
            sql_options: s(&["-c", "--command"]),
            subcommand_depth: Some(0),
            args: Some("none".into()),
            ..Default::default()
        },
        "mysql" | "mariadb" => ProgramSource {
            value_options: s(&[
                "-e",
                "--execute",
                "-h",
                "--host",
                "-u",
                "--user",
                "-D",
                "--database",
                "-P",
                "--port",
                "-S",
                "--socket",
            ]),
            sql_options: s(&["-e", "--execute"]),
            subcommand_depth: Some(0),
            args: Some("none".into()),
            ..Default::default()
        },
        "mongosh" | "mongo" => ProgramSource {
            value_options: s(&[
                "--eval",
                "--host",
                "--port",
                "-u",
                "--username",
                "-p",
                "--password",
                "--authenticationDatabase",
                "-f",
                "--file",
            ]),
            sql_options: s(&["--eval"]),
            subcommand_depth: Some(0),
            args: Some("none".into()),
            ..Default::default()
        },
        "sqlite3" | "redis-cli" | "clickhouse-client" | "cqlsh" | "duckdb" => ProgramSource {
            value_options: s(&[
                "-h", "-p", "-a", "-n", "-u", "--query", "-q", "-e", "--cmd", "--init",
            ]),
            sql_options: s(&["--query", "-q", "-e", "--cmd"]),
            subcommand_depth: Some(0),
            args: Some("none".into()),
            ..Default::default()
        },
        "find" | "fd" => spec(&[], 0, "none", program == "find"),
        "dd" => spec(&[], 0, "none", false),
        "echo" | "printf" | "true" | "false" | "test" | "[" | "ls" | "dir" | "cd" | "pwd"
        | "which" | "whereis" | "date" | "whoami" | "id" | "uname" | "env" | "printenv"
        | "export" | "set" | "unset" | "sleep" | "seq" | "yes" | "clear" | "history" | "alias"
        | "hostname" | "ps" | "kill" | "pkill" | "top" | "df" | "du" | "free" | "mount"
        | "umount" | "stat" | "file" | "realpath" | "readlink" | "dirname" | "basename"
        | "xargs" | "exit" | "wait" | "ssh" | "ssh-add" | "tree" | "exa" | "eza" | "lsof"
        | "watch" | "nproc" | "tput" | "write-host" | "write-output" | "get-childitem" | "mkfs"
        | "fdisk" | "parted" | "diskutil" | "format" | "shutdown" | "reboot" | "halt"
        | "poweroff" | "crontab" => spec(&[], 0, "none", false),
        "remove-item" | "ri" => spec(&["-path", "-literalpath"], 0, "delete", true),
        // PowerShell writers; cavra-shell binds `-Path`/`-FilePath` to the first positional
        // and passes `Set-Content`'s value as `-value V`
        "set-content" | "sc" | "add-content" | "ac" | "out-file" | "clear-content" | "clc"
        | "new-item" | "ni" | "tee-object" => spec(
            &[
                "-value",
                "-encoding",
                "-stream",
                "-inputobject",
                "-width",
                "-itemtype",
                "-type",
                "-name",
                "-filter",
                "-include",
                "-exclude",
                "-credential",
                "-variable",
                "-erroraction",
            ],
            0,
            "write",
            true,
        ),
        "copy-item" | "cpi" => spec(
            &["-filter", "-include", "-exclude", "-credential"],
            0,
            "copy",
            true,
        ),
        "move-item" | "mi" => spec(
            &["-filter", "-include", "-exclude", "-credential"],
            0,
            "move",
            true,
        ),
        _ => return None,
    })
}

trait WithSubcommandArgs {
    fn with_subcommand_args(self, table: &[(&str, &str)]) -> Self;
}

impl WithSubcommandArgs for ProgramSource {
    fn with_subcommand_args(mut self, table: &[(&str, &str)]) -> Self {
        for (sub, args) in table {
            self.subcommand_args
                .insert((*sub).to_string(), (*args).to_string());
        }
        self
    }
}

/// Programs whose output carries remote content.
pub fn is_downloader(program: &str, spec: Option<&ProgramSource>) -> bool {
    spec.and_then(|s| s.downloader).unwrap_or(false)
        || matches!(
            program,
            "curl"
                | "wget"
                | "wget2"
                | "http"
                | "https"
                | "xh"
                | "fetch"
                | "aria2c"
                | "iwr"
                | "invoke-webrequest"
                | "irm"
                | "invoke-restmethod"
                | "lwp-request"
                | "nc"
                | "ncat"
                | "netcat"
                | "socat"
                | "ftp"
                | "tftp"
        )
}

/// Programs that pass their input through (followed when tracing where stdin comes from).
pub fn is_passthrough(program: &str) -> bool {
    matches!(
        program,
        "cat"
            | "tee"
            | "gunzip"
            | "zcat"
            | "gzip"
            | "bunzip2"
            | "xz"
            | "unxz"
            | "tr"
            | "sed"
            | "head"
            | "tail"
            | "rev"
            | "dos2unix"
            | "iconv"
            | "stdbuf"
            | "pv"
            | "sort"
    )
}

/// Programs that execute their standard input as code.
pub fn is_interpreter(program: &str, spec: Option<&ProgramSource>) -> bool {
    spec.and_then(|s| s.interpreter).unwrap_or(false)
        || matches!(
            program,
            "sh" | "bash"
                | "zsh"
                | "dash"
                | "ksh"
                | "fish"
                | "csh"
                | "tcsh"
                | "ash"
                | "busybox"
                | "python"
                | "python2"
                | "python3"
                | "node"
                | "deno"
                | "bun"
                | "perl"
                | "ruby"
                | "php"
                | "lua"
                | "osascript"
                | "iex"
                | "invoke-expression"
                | "pwsh"
                | "powershell"
                | "powershell.exe"
                | "cmd"
                | "source"
                | "."
        )
        || program.starts_with("python3.")
}
