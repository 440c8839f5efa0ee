//! Lua health scripts with Argo CD's semantics (argo-cd `util/lua/lua.go`, `oslib_safe.go`),
//! in a sandboxed Lua 5.1 (gopher-lua, Argo CD's VM, implements Lua 5.1).
//!
//! - The object is the global `obj`, converted from JSON as Argo CD's `decodeValue` does:
//!   objects become tables keyed by string with null members left out, arrays become
//!   sequences with null elements dropped (gopher-lua's `Append` ignores nil, so the next
//!   element takes the index), numbers become Lua numbers (doubles), strings stay strings.
//! - Libraries: the base library without `dofile`, `loadfile`, `load`, `loadstring` and
//!   `print` (a no-op: script output never reaches the command's output), `table`, and
//!   Argo CD's safe os module (`time`, `date`) through `require("os")` and, by upstream's
//!   quirk, as `table.time`/`table.date` (no `os` global). With `useOpenLibs` (and for
//!   `sluice health --lua`, as Argo CD runs its own scripts) `string`, `math`, `coroutine`
//!   and the global `os` with `time`, `date`, `difftime`, `clock`. `io`, `debug`, the rest
//!   of `os` and module loading are never available (Argo CD's open libraries include them;
//!   here they stay closed).
//! - Limits: a wall-clock budget (Argo CD's 1 s context timeout, checked every 1,000 VM
//!   instructions: "context deadline exceeded") and a memory budget on top of what `obj`
//!   takes ([`LuaOptions::memory_limit`]). The hook does not run inside a library call, so
//!   pattern matching refuses calls whose backtracking bound is too large
//!   (`guard_patterns`).
//! - The script's last return value must be a table; it is read as Argo CD reads it (JSON
//!   encoding by gopher-json, then `json.Unmarshal` into `{status, message}`): a status that
//!   is not one of the six codes gives Unknown "Lua returned an invalid health status"; any
//!   error gives Unknown with the error as message.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mlua::{HookTriggers, Lua, LuaOptions as MluaOptions, StdLib, Table, VmState};
use serde_json::Value;

use crate::{HealthStatus, HealthStatusCode};
use sluice_core::civil::{DAYS, MONTHS, civil_from_days, days_from_civil};

/// Argo CD's `invalidHealthStatus`.
pub const INVALID_HEALTH_STATUS: &str = "Lua returned an invalid health status";

/// How a script runs.
#[derive(Debug, Clone)]
pub struct LuaOptions {
    /// `useOpenLibs`: also open `string`, `math` and `coroutine`.
    pub open_libs: bool,
    /// Wall-clock budget (Argo CD: 1 s).
    pub timeout: Duration,
    /// Bytes the script may allocate beyond what the converted object takes.
    pub memory_limit: usize,
}

impl Default for LuaOptions {
    fn default() -> Self {
        LuaOptions {
            open_libs: false,
            timeout: Duration::from_secs(1),
            memory_limit: 64 << 20,
        }
    }
}

/// Runs a health script against `obj`: the status it returns, or Unknown with the error.
pub fn run_health_script(obj: &Value, script: &str, opts: &LuaOptions) -> HealthStatus {
    match execute(obj, script, opts) {
        Ok(h) => h,
        Err(e) => HealthStatus::unknown(e),
    }
}

fn execute(obj: &Value, script: &str, opts: &LuaOptions) -> Result<HealthStatus, String> {
    let lua = sandbox(opts.open_libs).map_err(|e| error_message(&e))?;
    let o = to_lua(&lua, obj, 0).map_err(|e| error_message(&e))?;
    lua.globals().set("obj", o).map_err(|e| error_message(&e))?;
    let base = lua.used_memory();
    lua.set_memory_limit(base.saturating_add(opts.memory_limit))
        .map_err(|e| error_message(&e))?;
    let start = Instant::now();
    let timeout = opts.timeout;
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(1000),
        move |_, _| {
            if start.elapsed() > timeout {
                Err(mlua::Error::runtime("context deadline exceeded"))
            } else {
                Ok(VmState::Continue)
            }
        },
    )
    .map_err(|e| error_message(&e))?;
    let ret: mlua::MultiValue = lua
        .load(script)
        // text only: Lua 5.1 does not verify bytecode, a crafted binary chunk could crash
        .set_mode(mlua::chunk::ChunkMode::Text)
        .set_name("=<string>")
        .into_function()
        .and_then(|f| f.call(()))
        .map_err(|e| error_message(&e))?;
    lua.remove_hook();
    let last = ret.into_iter().last().unwrap_or(mlua::Value::Nil);
    decode_result(&last)
}

/// A fresh state with only the libraries Argo CD's scripts get.
pub(crate) fn sandbox(open_libs: bool) -> mlua::Result<Lua> {
    let mut libs = StdLib::TABLE;
    if open_libs {
        libs |= StdLib::STRING | StdLib::MATH;
    }
    let lua = Lua::new_with(libs, MluaOptions::default())?;
    let g = lua.globals();
    for name in [
        "dofile",
        "loadfile",
        "load",
        "loadstring",
        "require",
        "module",
        "package",
    ] {
        g.raw_set(name, mlua::Value::Nil)?;
    }
    if !open_libs {
        g.raw_set("coroutine", mlua::Value::Nil)?;
    }
    g.raw_set(
        "print",
        lua.create_function(|_, _: mlua::MultiValue| Ok(()))?,
    )?;
    // gopher-lua's tostring of a number (Go formatting), the rest as Lua's own
    let lua_tostring: mlua::Function = g.raw_get("tostring")?;
    g.raw_set(
        "tostring",
        lua.create_function(move |lua, v: mlua::Value| match v {
            mlua::Value::Integer(i) => lua.create_string(i.to_string()),
            mlua::Value::Number(n) => lua.create_string(lua_number_string(n)),
            other => lua_tostring.call::<mlua::LuaString>(other),
        })?,
    )?;
    if open_libs {
        guard_patterns(&lua)?;
    }
    // argo-cd oslib_safe.go `OpenSafeOs` registers time and date into the *table* module
    // (`RegisterModule(lua.TabLibName, ...)`): without the open libraries there is no `os`
    // global, only `require("os")` (the preloaded safe module) and `table.time`/`table.date`.
    // With them, gopher-lua's own os library is the global; here its safe part (time, date,
    // difftime, clock; not exit, execute, remove, rename, getenv, setenv, tmpname).
    let table: Table = g.raw_get("table")?;
    table.raw_set("time", lua.create_function(os_time)?)?;
    table.raw_set("date", lua.create_function(os_date)?)?;
    let os = safe_os(&lua, open_libs)?;
    if open_libs {
        g.raw_set("os", os.clone())?;
    }
    let modules = lua.create_table()?;
    modules.raw_set("os", os)?;
    for name in ["table", "string", "math", "coroutine"] {
        if let Ok(t) = g.raw_get::<Table>(name) {
            modules.raw_set(name, t)?;
        }
    }
    let require = lua.create_function(move |_, name: String| {
        match modules.raw_get::<Option<Table>>(name.as_str())? {
            Some(t) => Ok(t),
            None => Err(mlua::Error::runtime(format!("module {name} not found"))),
        }
    })?;
    g.raw_set("require", require)?;
    Ok(lua)
}

/// The instruction hook does not run inside a library call, and Lua's pattern matcher
/// backtracks: `string.find(s, "(.-)(.-)(.-)x")` on a long `s` could run for hours within one
/// call. The matching functions refuse, with an error, a call whose worst case
/// (subject length to the power of the pattern's repetition items) is beyond what the time
/// budget allows; health scripts' patterns on status strings are far below it.
pub(crate) fn guard_patterns(lua: &Lua) -> mlua::Result<()> {
    let string: Table = lua.globals().raw_get("string")?;
    for name in ["find", "match", "gmatch", "gsub"] {
        let orig: mlua::Function = string.raw_get(name)?;
        let wrapped = lua.create_function(move |_, args: mlua::MultiValue| {
            let subject = args.front().map_or(0, |v| match v {
                mlua::Value::String(s) => s.as_bytes().len(),
                _ => 0,
            });
            let pattern = args.get(1).and_then(|v| match v {
                mlua::Value::String(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            });
            let plain = name == "find"
                && args
                    .get(3)
                    .is_some_and(|v| !matches!(v, mlua::Value::Nil | mlua::Value::Boolean(false)));
            if let (Some(p), false) = (pattern, plain)
                && pattern_cost(subject, &p) > 1e10
            {
                return Err(mlua::Error::runtime(format!(
                    "string.{name}: pattern too costly for the time limit ({subject}-byte subject)"
                )));
            }
            orig.call::<mlua::MultiValue>(args)
        })?;
        string.raw_set(name, wrapped)?;
    }
    Ok(())
}

/// A bound on the matcher's backtracking: `len ^ k`, `k` the number of `.` items repeated
/// with `*`, `-` or `+` (the items that can each take any split of the subject); patterns
/// with one such item or none are linear enough and never refused.
fn pattern_cost(len: usize, pattern: &[u8]) -> f64 {
    let mut items = 0i32;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'%' => i += 2,
            b'[' => {
                i += 1;
                if pattern.get(i) == Some(&b'^') {
                    i += 1;
                }
                if pattern.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < pattern.len() && pattern[i] != b']' {
                    i += if pattern[i] == b'%' { 2 } else { 1 };
                }
                i += 1;
            }
            b'.' => {
                if matches!(pattern.get(i + 1), Some(b'*' | b'-' | b'+')) {
                    items += 1;
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if items < 2 {
        return 0.0;
    }
    (len.max(1) as f64).powi(items)
}

/// Argo CD's `decodeValue`: JSON to Lua values. Nesting deeper than 512 levels (YAML input
/// is limited to 128) is refused rather than recursing further.
pub(crate) fn to_lua(lua: &Lua, v: &Value, depth: usize) -> mlua::Result<mlua::Value> {
    if depth > 512 {
        return Err(mlua::Error::runtime("object nested too deeply"));
    }
    Ok(match v {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => mlua::Value::String(lua.create_string(s)?),
        Value::Array(a) => {
            let t = lua.create_table_with_capacity(a.len(), 0)?;
            let mut i = 0;
            for item in a {
                if item.is_null() {
                    continue;
                }
                i += 1;
                t.raw_set(i, to_lua(lua, item, depth + 1)?)?;
            }
            mlua::Value::Table(t)
        }
        Value::Object(m) => {
            let t = lua.create_table_with_capacity(0, m.len())?;
            for (k, item) in m {
                if !item.is_null() {
                    t.raw_set(k.as_str(), to_lua(lua, item, depth + 1)?)?;
                }
            }
            mlua::Value::Table(t)
        }
    })
}

/// The message of a Lua error, without the traceback.
pub(crate) fn error_message(e: &mlua::Error) -> String {
    let s = match e {
        mlua::Error::RuntimeError(s) => s.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(_) => "not enough memory".to_owned(),
        mlua::Error::CallbackError { cause, .. } => return error_message(cause),
        mlua::Error::WithContext { cause, .. } => return error_message(cause),
        other => other.to_string(),
    };
    match s.find("\nstack traceback:") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// gopher-lua's name of a value's type.
fn type_name(v: &mlua::Value) -> &'static str {
    match v {
        mlua::Value::Nil => "nil",
        mlua::Value::Boolean(_) => "boolean",
        mlua::Value::Integer(_) | mlua::Value::Number(_) => "number",
        mlua::Value::String(_) => "string",
        mlua::Value::Table(_) => "table",
        mlua::Value::Function(_) => "function",
        mlua::Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// gopher-json's `Encode` check: what in a returned table cannot become JSON.
fn check_encodable(v: &mlua::Value, seen: &mut Vec<usize>) -> Result<(), String> {
    match v {
        mlua::Value::Table(t) => {
            let id = t.to_pointer() as usize;
            if seen.contains(&id) {
                return Err("cannot encode recursively nested tables to JSON".to_owned());
            }
            seen.push(id);
            for pair in t.pairs::<mlua::Value, mlua::Value>() {
                let (_, item) = pair.map_err(|e| error_message(&e))?;
                check_encodable(&item, seen)?;
            }
            seen.pop();
            Ok(())
        }
        mlua::Value::Number(n) if !n.is_finite() => {
            Err(format!("json: unsupported value: {}", go_special(*n)))
        }
        mlua::Value::Function(_) => Err("cannot encode function to JSON".to_owned()),
        mlua::Value::Thread(_) => Err("cannot encode LState to JSON".to_owned()),
        mlua::Value::LightUserData(_) | mlua::Value::UserData(_) => {
            Err("cannot encode userdata to JSON".to_owned())
        }
        _ => Ok(()),
    }
}

fn go_special(n: f64) -> &'static str {
    if n.is_nan() {
        "NaN"
    } else if n > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// The JSON type name `json.Unmarshal` reports for a value.
fn json_kind(v: &mlua::Value) -> &'static str {
    match v {
        mlua::Value::Boolean(_) => "bool",
        mlua::Value::Integer(_) | mlua::Value::Number(_) => "number",
        mlua::Value::String(_) => "string",
        mlua::Value::Table(t) if is_array(t) => "array",
        _ => "object",
    }
}

/// gopher-json encodes a table whose keys are exactly 1..n (n >= 0) as a JSON array.
fn is_array(t: &Table) -> bool {
    let mut n = 0usize;
    let mut max = 0f64;
    for (k, _) in t.pairs::<mlua::Value, mlua::Value>().flatten() {
        match k {
            mlua::Value::Integer(i) if i >= 1 => max = max.max(i as f64),
            mlua::Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => max = max.max(f),
            _ => return false,
        }
        n += 1;
    }
    max == n as f64
}

/// The health a script's return value means to Argo CD (`ExecuteHealthLua`).
fn decode_result(v: &mlua::Value) -> Result<HealthStatus, String> {
    let mlua::Value::Table(t) = v else {
        return Err(format!(
            "expect table output from Lua script, not {}",
            type_name(v)
        ));
    };
    check_encodable(v, &mut Vec::new())?;
    if is_array(t) {
        return Err(
            "json: cannot unmarshal array into Go value of type health.HealthStatus".to_owned(),
        );
    }
    // json.Marshal sorts map keys; Unmarshal matches field names case-insensitively and a
    // later key overwrites an earlier one.
    let mut entries: Vec<(String, mlua::Value)> = Vec::new();
    for pair in t.pairs::<mlua::Value, mlua::Value>() {
        let (k, item) = pair.map_err(|e| error_message(&e))?;
        let key = match &k {
            mlua::Value::String(s) => s.to_string_lossy(),
            mlua::Value::Integer(i) => i.to_string(),
            mlua::Value::Number(n) => lua_number_string(*n),
            mlua::Value::Boolean(b) => b.to_string(),
            _ => continue,
        };
        entries.push((key, item));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut status, mut message) = (String::new(), String::new());
    for (k, item) in &entries {
        let field = if k.eq_ignore_ascii_case("status") {
            &mut status
        } else if k.eq_ignore_ascii_case("message") {
            &mut message
        } else {
            continue;
        };
        match item {
            mlua::Value::String(s) => *field = s.to_string_lossy(),
            other => {
                let (name, ty) = if k.eq_ignore_ascii_case("status") {
                    ("status", "health.HealthStatusCode")
                } else {
                    ("message", "string")
                };
                return Err(format!(
                    "json: cannot unmarshal {} into Go struct field HealthStatus.{name} of type {ty}",
                    json_kind(other)
                ));
            }
        }
    }
    match HealthStatusCode::parse(&status) {
        Some(code) => Ok(HealthStatus::new(code, message)),
        None => Ok(HealthStatus::unknown(INVALID_HEALTH_STATUS)),
    }
}

/// gopher-lua's `tostring` of a number (`LNumber.String`): an integral value that fits an
/// int64 as an integer, any other as Go's `fmt.Sprint(float64)` (shortest digits, exponent
/// form when the exponent is below -4 or at least 6, as strconv's shortest `%g` decides).
pub fn lua_number_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // within int64: [-2^63, 2^63)
    if n.fract() == 0.0 && (-(2f64.powi(63))..2f64.powi(63)).contains(&n) {
        return format!("{}", n as i64);
    }
    go_float(n)
}

/// Go's `%v` of a float64 (strconv `'g'`, shortest): `%e` form when the exponent is below
/// -4 or at least 6 ("if precision was the shortest possible, use precision 6").
fn go_float(n: f64) -> String {
    let e = format!("{n:e}"); // "-1.2345e-7": shortest round-trip digits
    let (mant, exp) = e.split_once('e').unwrap_or((e.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mant) = match mant.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mant),
    };
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let sign_e = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{sign_e}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

// ---- the safe os library (argo-cd util/lua/oslib_safe.go) ---------------------------------

fn safe_os(lua: &Lua, open_libs: bool) -> mlua::Result<Table> {
    let os = lua.create_table()?;
    os.raw_set("time", lua.create_function(os_time)?)?;
    os.raw_set("date", lua.create_function(os_date)?)?;
    if open_libs {
        os.raw_set(
            "difftime",
            lua.create_function(|_, (a, b): (f64, f64)| Ok(a - b))?,
        )?;
        let start = Instant::now();
        os.raw_set(
            "clock",
            lua.create_function(move |_, ()| Ok(start.elapsed().as_secs_f64()))?,
        )?;
    }
    Ok(os)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `os.time([table])`: now, or the table's date (fields `year`, `month`, `day`, `hour`
/// (default 12), `min`, `sec`; out-of-range values roll over as Go's `time.Date` does), as
/// seconds since the epoch. Times are UTC (Argo CD uses the controller's local zone).
fn os_time(_: &Lua, t: Option<mlua::Value>) -> mlua::Result<f64> {
    let Some(t) = t else {
        return Ok(now_unix() as f64);
    };
    let mlua::Value::Table(t) = t else {
        return Err(mlua::Error::runtime(format!(
            "bad argument #1 to time (table expected, got {})",
            type_name(&t)
        )));
    };
    let int = |k: &str, d: i64| -> i64 {
        match t.raw_get::<mlua::Value>(k) {
            Ok(mlua::Value::Integer(i)) => i,
            Ok(mlua::Value::Number(n)) if n.is_finite() => n.trunc() as i64,
            _ => d,
        }
    };
    let (year, month) = (int("year", -1), int("month", -1));
    let (day, hour, min, sec) = (
        int("day", -1),
        int("hour", 12),
        int("min", 0),
        int("sec", 0),
    );
    // time.Date normalizes the month first, then adds the rest as a duration
    let m0 = month - 1;
    let y = year.saturating_add(m0.div_euclid(12));
    let m = m0.rem_euclid(12) + 1;
    let days = days_from_civil(y, m, 1).saturating_add(day - 1);
    let secs = days
        .saturating_mul(86_400)
        .saturating_add(hour.saturating_mul(3600))
        .saturating_add(min.saturating_mul(60))
        .saturating_add(sec);
    Ok(secs as f64)
}

/// `os.date([format [, time]])`: gopher-lua's strftime subset, UTC.
fn os_date(lua: &Lua, (fmt, time): (Option<String>, Option<f64>)) -> mlua::Result<mlua::Value> {
    let mut fmt = fmt.unwrap_or_else(|| "%c".to_owned());
    if let Some(f) = fmt.strip_prefix('!') {
        fmt = f.trim_start_matches('!').to_owned();
    }
    let t = time.map_or_else(now_unix, |t| t as i64);
    let c = Civil::from_unix(t);
    if fmt.starts_with("*t") {
        let tbl = lua.create_table()?;
        tbl.raw_set("year", c.year)?;
        tbl.raw_set("month", c.month)?;
        tbl.raw_set("day", c.day)?;
        tbl.raw_set("hour", c.hour)?;
        tbl.raw_set("min", c.min)?;
        tbl.raw_set("sec", c.sec)?;
        tbl.raw_set("wday", c.weekday + 1)?;
        tbl.raw_set("yday", 0)?;
        tbl.raw_set("isdst", false)?;
        return Ok(mlua::Value::Table(tbl));
    }
    Ok(mlua::Value::String(lua.create_string(strftime(&c, &fmt))?))
}

/// A UTC date and time.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    min: i64,
    sec: i64,
    /// 0 = Sunday.
    weekday: i64,
}

impl Civil {
    fn from_unix(t: i64) -> Civil {
        let days = t.div_euclid(86_400);
        let rem = t.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            min: rem % 3600 / 60,
            sec: rem % 60,
            weekday: (days + 4).rem_euclid(7),
        }
    }
}

/// gopher-lua's `strftime` (argo-cd `oslib_safe.go`): each `%x` maps to a Go time layout,
/// including its quirks (`%a` is the literal `mon`, `%x` is `HH/MM/SS`).
fn strftime(c: &Civil, fmt: &str) -> String {
    let hour12 = match c.hour % 12 {
        0 => 12,
        h => h,
    };
    let mon = &MONTHS[(c.month - 1).clamp(0, 11) as usize];
    let wday = DAYS[c.weekday.clamp(0, 6) as usize];
    let year = if c.year >= 0 {
        format!("{:04}", c.year)
    } else {
        format!("-{:04}", -c.year)
    };
    let mut out = String::new();
    let b = fmt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 1 < b.len() && b[i + 1] == b'%' {
                out.push('%');
                i += 2;
                continue;
            }
            if i + 1 < b.len() {
                let f = b[i + 1];
                let s = match f {
                    b'a' => "mon".to_owned(),
                    b'A' => wday.to_owned(),
                    b'b' => mon[..3].to_owned(),
                    b'B' => (*mon).to_owned(),
                    b'c' => format!(
                        "{:02} {} {:02} {:02}:{:02} UTC",
                        c.day,
                        &mon[..3],
                        c.year.rem_euclid(100),
                        c.hour,
                        c.min
                    ),
                    b'd' => format!("{:02}", c.day),
                    b'F' => format!("{year}-{:02}-{:02}", c.month, c.day),
                    b'H' => format!("{:02}", c.hour),
                    b'I' => format!("{hour12:02}"),
                    b'm' => format!("{:02}", c.month),
                    b'M' => format!("{:02}", c.min),
                    b'p' => if c.hour < 12 { "AM" } else { "PM" }.to_owned(),
                    b'P' => if c.hour < 12 { "am" } else { "pm" }.to_owned(),
                    b'S' => format!("{:02}", c.sec),
                    b'x' => format!("{:02}/{:02}/{:02}", c.hour, c.min, c.sec),
                    b'X' => format!("{:02}:{:02}:{:02}", c.hour, c.min, c.sec),
                    b'y' => format!("{:02}", c.year.rem_euclid(100)),
                    b'Y' => year.clone(),
                    b'z' => "+0000".to_owned(),
                    b'Z' => "UTC".to_owned(),
                    b'w' => c.weekday.to_string(),
                    _ => {
                        // not a flag: kept as written (the byte may start a UTF-8 sequence)
                        let ch_len = fmt[i + 1..].chars().next().map_or(1, char::len_utf8);
                        out.push('%');
                        out.push_str(&fmt[i + 1..i + 1 + ch_len]);
                        i += 1 + ch_len;
                        continue;
                    }
                };
                out.push_str(&s);
                i += 2;
                continue;
            }
        }
        let ch_len = fmt[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&fmt[i..i + ch_len]);
        i += ch_len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(obj: Value, script: &str) -> HealthStatus {
        let opts = LuaOptions {
            open_libs: true,
            timeout: Duration::from_millis(200),
            memory_limit: 8 << 20,
        };
        run_health_script(&obj, script, &opts)
    }

    // gopher-lua value.go LNumber.String: int64 when integral, else fmt.Sprint(float64).
    #[test]
    fn number_strings_as_gopher_lua() {
        assert_eq!(lua_number_string(3.0), "3");
        assert_eq!(lua_number_string(-0.0), "0");
        assert_eq!(lua_number_string(1e15), "1000000000000000");
        assert_eq!(lua_number_string(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(lua_number_string(1.5), "1.5");
        assert_eq!(lua_number_string(0.0001), "0.0001");
        assert_eq!(lua_number_string(0.00001), "1e-05");
        assert_eq!(lua_number_string(1e20), "1e+20");
        assert_eq!(lua_number_string(1234567.5), "1.2345675e+06");
        assert_eq!(lua_number_string(2f64.powi(70)), "1.1805916207174113e+21");
        assert_eq!(lua_number_string(123456.75), "123456.75");
        assert_eq!(lua_number_string(f64::NAN), "NaN");
        let h = run(
            json!({"n": 2.5}),
            "return {status='Healthy', message=tostring(obj.n) .. ' ' .. tostring(1/3) .. ' ' .. tostring(true)}",
        );
        assert_eq!(h.message, "2.5 0.3333333333333333 true");
    }

    // gopher-lua's DoString runs a block (never an expression) and reads the last value left.
    #[test]
    fn blocks_not_expressions_and_no_bytecode() {
        let h = run(json!({}), "{status = 'Healthy'}");
        assert_eq!(h.status, HealthStatusCode::Unknown);
        let h = run(json!({}), "return 1, {status = 'Healthy'}");
        assert_eq!(h.status, HealthStatusCode::Healthy);
        let h = run(json!({}), "return {status = 'Healthy'}, 1");
        assert_eq!(h.message, "expect table output from Lua script, not number");
        let h = run(json!({}), "\x1bLua\x51\x00garbage");
        assert_eq!(h.status, HealthStatusCode::Unknown);
        let h = run(json!({}), "return {}");
        assert_eq!(
            h.message,
            "json: cannot unmarshal array into Go value of type health.HealthStatus"
        );
        let h = run(json!({}), "return {status = 'Fine'}");
        assert_eq!(h.message, INVALID_HEALTH_STATUS);
        let h = run(json!({}), "return {status = 'Healthy', message = 3}");
        assert_eq!(
            h.message,
            "json: cannot unmarshal number into Go struct field HealthStatus.message of type string"
        );
        let h = run(json!({}), "return {status = 'Healthy', f = function() end}");
        assert_eq!(h.message, "cannot encode function to JSON");
        // no file or module access
        for script in [
            "return dofile('/etc/passwd')",
            "return io.open('/etc/passwd')",
            "return require('io')",
            "return loadstring('return 1')()",
        ] {
            assert_eq!(
                run(json!({}), script).status,
                HealthStatusCode::Unknown,
                "{script}"
            );
        }
        let h = run(
            json!({}),
            "local os = require('os') return {status = 'Healthy', message = type(os.time()) .. type(os.exit)}",
        );
        assert_eq!(h.message, "numbernil");
    }

    #[test]
    fn costly_patterns_are_refused() {
        assert_eq!(
            pattern_cost(1000, b"(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)"),
            0.0
        );
        assert_eq!(pattern_cost(1000, b"(.-)x"), 0.0);
        assert_eq!(pattern_cost(10, b"(.-)%.(.*)[.-]"), 100.0);
        let h = run(
            json!({}),
            "local s = string.rep('a', 100000) local a = string.find(s, '(.-)(.-)(.-)x') return {status='Healthy'}",
        );
        assert_eq!(h.status, HealthStatusCode::Unknown);
        assert!(h.message.contains("pattern too costly"), "{h:?}");
        let h = run(
            json!({"m": "Waiting for 3 pods: rollout 2/3"}),
            "local a, b = string.match(obj.m, '(%d+)/(%d+)') local i = obj.m:find('pods', 1, true) return {status='Healthy', message=a .. b .. i .. string.gsub('a-b', '-', '+')}",
        );
        assert_eq!(h.message, "2315a+b", "{h:?}");
    }

    #[test]
    fn dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        let c = Civil::from_unix(1_704_164_645); // 2024-01-02 03:04:05 UTC, a Tuesday
        assert_eq!(
            strftime(&c, "%Y-%m-%d %H:%M:%S %A %w %b %%"),
            "2024-01-02 03:04:05 Tuesday 2 Jan %"
        );
        assert_eq!(strftime(&c, "%a %x %q"), "mon 03/04/05 %q");
    }

    // argo-cd util/lua/oslib_safe.go: os.time{...} defaults hour to 12 and rolls over.
    #[test]
    fn os_time_table() {
        let h = run(
            json!({}),
            r#"local t = os.time({year=2024, month=1, day=2, hour=3, min=4, sec=5})
               local u = os.time({year=2023, month=13, day=2})
               return {status="Healthy", message=tostring(t) .. " " .. tostring(u) .. " " .. os.date("!%Y-%m-%dT%H:%M:%SZ", t)}"#,
        );
        assert_eq!(
            h.message, "1704164645 1704196800 2024-01-02T03:04:05Z",
            "{h:?}"
        );
    }
}
