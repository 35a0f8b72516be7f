//! End to end: the SQLite 3.52 shell (`sqlite3.o` + `shell.o`), loaded and
//! run by `objdl run`, must print byte-identical output to the same objects
//! linked by gcc. The sources are fetched and built by
//! `scripts/fetch-sqlite.sh` into a cache outside git.

use common::sqlite_dir;
use objdl_testkit as common;

use std::process::{Command, Output};

/// A script with tables, joins, aggregates, window functions, a recursive
/// CTE, printf and JSON.
const SCRIPT: &str = r#"
create table dept(id integer primary key, name text not null);
create table emp(id integer primary key, name text, dept integer references dept(id), salary real, hired text);
insert into dept values (1, 'engineering'), (2, 'sales'), (3, 'research');
insert into emp values
  (1, 'ada', 1, 120000.5, '2019-03-01'), (2, 'brian', 1, 98000, '2020-07-15'),
  (3, 'carla', 2, 76000, '2018-01-20'), (4, 'dmitri', 3, 135000.25, '2015-11-30'),
  (5, 'eve', 2, 81000, '2021-05-05'), (6, 'farid', null, 50000, '2022-02-02');
select d.name, count(e.id), printf('%.2f', avg(e.salary)), max(e.hired)
  from dept d left join emp e on e.dept = d.id group by d.id order by d.name;
select e.name, coalesce(d.name, '-') from emp e left join dept d on d.id = e.dept order by e.id;
select name, salary, rank() over (partition by dept order by salary desc) from emp order by dept, salary desc;
with recursive fib(n, a, b) as (select 1, 0, 1 union all select n + 1, b, a + b from fib where n < 30)
  select group_concat(a, ',') from fib;
select printf('%08.3f|%-10s|%10s|%x|%e|%c', 3.14159265, 'left', 'right', 48879, 12345.678, 'z');
select printf('%,d', 1234567890), printf('%q', 'it''s'), printf('%.5s', 'truncated');
select json_object('dept', d.name, 'people', (select json_group_array(name) from emp where dept = d.id)) from dept d order by d.id;
select json_extract('{"a":{"b":[10,20,{"c":"deep"}]}}', '$.a.b[2].c'), json_array_length('[1,2,3,4]');
select key, value from json_each('{"x":1,"y":[2,3],"z":null}');
select upper('straße'), length('héllo'), hex(zeroblob(2)), typeof(1.0), 7 / 2, 7.0 / 2, -7 % 3;
select strftime('%Y-%m-%d %H:%M', '2024-02-29 13:45:00', '+1 year'), julianday('2000-01-01');
select sum(value) from generate_series(1, 1000) where value % 7 = 0;
"#;

fn native(flavour: &str) -> Output {
    let dir = sqlite_dir().join(flavour);
    Command::new(dir.join("native"))
        .args([":memory:", SCRIPT])
        .output()
        .expect("run the gcc-linked sqlite3")
}

fn objdl(flavour: &str, place: &str) -> Output {
    let dir = sqlite_dir().join(flavour);
    common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
        .args(["run", "--stats", "--place", place])
        .arg(dir.join("sqlite3.o"))
        .arg(dir.join("shell.o"))
        .args(["--", ":memory:", SCRIPT])
        .output()
        .expect("run objdl")
}

fn same_output(flavour: &str, place: &str) {
    let want = native(flavour);
    assert!(want.status.success());
    assert!(want.stdout.len() > 500, "the script should print plenty");
    let got = objdl(flavour, place);
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(
        got.status.success(),
        "objdl run {flavour} --place {place} failed: {stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        String::from_utf8_lossy(&want.stdout),
        "{flavour} --place {place}"
    );
    assert!(
        stderr.contains("objects 2 "),
        "--stats line missing: {stderr}"
    );
    eprintln!("{flavour} --place {place}: {}", stderr.trim());
}

#[test]
fn sqlite_pie_matches_gcc() {
    same_output("pie", "auto");
}

#[test]
fn sqlite_pic_matches_gcc() {
    same_output("pic", "auto");
}

#[test]
fn sqlite_large_matches_gcc() {
    same_output("large", "auto");
}

#[test]
fn sqlite_pic_far_matches_gcc() {
    same_output("pic", "far");
}

#[test]
fn sqlite_large_far_matches_gcc() {
    same_output("large", "far");
}

/// PIE objects read stdin/stdout/stderr with plain PC32, which only reaches
/// from near libc: `--place far` must refuse, name those sites and suggest -fPIC.
#[test]
fn sqlite_pie_far_is_refused_with_sites() {
    let got = objdl("pie", "far");
    assert_eq!(got.status.code(), Some(125));
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("objdl: error: "), "{err}");
    for needle in [
        "`stdout`",
        "`stderr`",
        "`stdin`",
        "R_X86_64_PC32",
        "shell.o:.text+0x",
        "-fPIC",
    ] {
        assert!(err.contains(needle), "missing {needle}: {err}");
    }
}
