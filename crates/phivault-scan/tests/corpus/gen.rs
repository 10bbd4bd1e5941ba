//! Deterministic generator for the labelled corpus in `corpus.jsonl`.
//!
//! Every line is synthetic. Values are drawn from a fixed-seed splitmix64
//! generator; names come from the shipped census lists plus a few names the
//! lists do not contain (expected misses). Labels are byte spans.

use std::fmt::Write as _;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

#[derive(Default)]
pub struct Line {
    pub text: String,
    pub labels: Vec<(String, usize, usize)>,
}

impl Line {
    fn lit(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }
    fn phi(&mut self, kind: &str, s: &str) -> &mut Self {
        let start = self.text.len();
        self.text.push_str(s);
        self.labels.push((kind.to_owned(), start, self.text.len()));
        self
    }
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "Maria",
    "Jose",
    "Carlos",
    "Wei",
    "Aisha",
    "Fatima",
    "Daniel",
    "Susan",
    "Kevin",
    "Laura",
    "Brian",
    "Angela",
    "Thomas",
    "Nancy",
    "Raymond",
    "Gloria",
    "Dennis",
    "Teresa",
    "Harold",
    "Doris",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Garcia",
    "Martinez",
    "Rodriguez",
    "Nguyen",
    "Patel",
    "Kim",
    "Anderson",
    "Thompson",
    "Robinson",
    "Lewis",
    "Walker",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Campbell",
    "Mitchell",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Torres",
    "Parker",
];
/// Not in the census lists: the detector is expected to miss these.
const RARE: &[&str] = &[
    "Xiomara Quetzali",
    "Oluwaseun Adeyemi-Okafor",
    "Siobhan Ni Bhriain",
    "Thandiwe Nkosazana",
];
const DOMAINS: &[&str] = &[
    "example.org",
    "mail.example.com",
    "patients.example.net",
    "clinic.example.health",
];
const STATES: &[&str] = &["MA", "NY", "CA", "TX", "WA", "IL", "NH", "OR"];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const FULL_MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn ssn(r: &mut Rng) -> String {
    let area = loop {
        let a = r.range(1, 899);
        if a != 666 {
            break a;
        }
    };
    format!("{area:03}-{:02}-{:04}", r.range(1, 99), r.range(1, 9999))
}
fn bad_ssn(r: &mut Rng) -> String {
    let area = [0, 666, r.range(900, 999)][r.below(3) as usize];
    let (g, s) = if r.chance(50) {
        (r.range(1, 99), 0)
    } else {
        (0, r.range(1, 9999))
    };
    if area != 0 && area != 666 && area < 900 {
        return format!("{area:03}-{g:02}-{s:04}");
    }
    format!("{area:03}-{:02}-{:04}", r.range(1, 99), r.range(1, 9999))
}
fn nanp(r: &mut Rng) -> (u64, u64, u64) {
    (r.range(201, 989), r.range(200, 999), r.range(0, 9999))
}
fn phone(r: &mut Rng) -> String {
    let (a, e, n) = nanp(r);
    match r.below(6) {
        0 => format!("({a}) {e}-{n:04}"),
        1 => format!("{a}-{e}-{n:04}"),
        2 => format!("{a}.{e}.{n:04}"),
        3 => format!("+1 {a} {e} {n:04}"),
        4 => format!("+1-{a}-{e}-{n:04}"),
        _ => format!("+44 20 {} {:04}", r.range(7000, 8999), r.range(0, 9999)),
    }
}
fn email(r: &mut Rng) -> String {
    let f = r.pick(FIRST).to_ascii_lowercase();
    let l = r.pick(LAST).to_ascii_lowercase();
    let sep = r.pick(&[".", "_", "", "+"]);
    format!(
        "{f}{sep}{l}{}@{}",
        if r.chance(30) {
            r.range(1, 99).to_string()
        } else {
            String::new()
        },
        r.pick(DOMAINS)
    )
}
fn ipv4(r: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        r.pick(&["203", "198", "10", "172", "192", "81", "66"]),
        r.range(0, 255),
        r.range(0, 255),
        r.range(1, 254)
    )
}
fn ipv6(r: &mut Rng) -> String {
    if r.chance(50) {
        format!("2001:db8:{}:{}::{}", r.hex(4), r.hex(3), r.hex(2))
    } else {
        format!(
            "fe80::{}:{}ff:fe{}:{}",
            r.hex(3),
            r.hex(2),
            r.hex(2),
            r.hex(4)
        )
    }
}
fn dob(r: &mut Rng) -> String {
    let (y, m, d) = (r.range(1925, 2015), r.range(1, 12), r.range(1, 28));
    match r.below(5) {
        0 | 1 => format!("{y}-{m:02}-{d:02}"),
        2 => format!("{m:02}/{d:02}/{y}"),
        3 => format!(
            "{} {d}, {y}",
            FULL_MONTHS[(m as usize - 1) % FULL_MONTHS.len()]
        ),
        _ => format!("{d:02}-{}-{y}", MONTHS[m as usize - 1]),
    }
}
fn luhn_complete(prefix: &str, len: usize, r: &mut Rng) -> String {
    let mut d: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    while d.len() < len - 1 {
        d.push(r.below(10) as u8);
    }
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    d.push(((10 - sum % 10) % 10) as u8);
    d.iter().map(|x| char::from(b'0' + x)).collect()
}
fn card(r: &mut Rng) -> String {
    let (p, len) =
        [("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)][r.below(5) as usize];
    let c = luhn_complete(p, len, r);
    let sep = r.pick(&["", " ", "-"]);
    if sep.is_empty() {
        return c;
    }
    if len == 15 {
        return format!("{}{sep}{}{sep}{}", &c[..4], &c[4..10], &c[10..]);
    }
    format!(
        "{}{sep}{}{sep}{}{sep}{}",
        &c[..4],
        &c[4..8],
        &c[8..12],
        &c[12..]
    )
}
fn vin(r: &mut Rng) -> String {
    const CH: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    const W: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    loop {
        let mut v: Vec<u8> = (0..17)
            .map(|_| CH[r.below(CH.len() as u64) as usize])
            .collect();
        for b in v.iter_mut().skip(11) {
            *b = b'0' + r.below(10) as u8;
        }
        let val = |b: u8| match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'H' => u32::from(b - b'A') + 1,
            b'J'..=b'N' => u32::from(b - b'J') + 1,
            b'P' => 7,
            b'R' => 9,
            _ => u32::from(b - b'S') + 2,
        };
        let sum: u32 = v.iter().zip(W).map(|(&b, w)| val(b) * w).sum();
        v[8] = if sum % 11 == 10 {
            b'X'
        } else {
            b'0' + (sum % 11) as u8
        };
        if v.iter().filter(|b| b.is_ascii_uppercase()).count() >= 2 {
            return String::from_utf8(v).unwrap();
        }
    }
}
fn name(r: &mut Rng) -> String {
    if r.chance(8) {
        return r.pick(RARE).to_owned();
    }
    let (f, l) = (r.pick(FIRST), r.pick(LAST));
    if r.chance(15) {
        format!("{f} {}. {l}", char::from(b'A' + r.below(26) as u8))
    } else {
        format!("{f} {l}")
    }
}
fn uuid(r: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        r.hex(8),
        r.hex(4),
        r.hex(3),
        r.hex(3),
        r.hex(12)
    )
}
fn ts_iso(r: &mut Rng) -> String {
    format!(
        "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        r.range(1, 12),
        r.range(1, 28),
        r.range(1, 23),
        r.range(1, 59),
        r.range(1, 59),
        r.range(0, 999)
    )
}
fn ts_nginx(r: &mut Rng) -> String {
    format!(
        "{:02}/{}/2024:{:02}:{:02}:{:02} +0000",
        r.range(1, 28),
        r.pick(MONTHS),
        r.range(1, 23),
        r.range(1, 59),
        r.range(1, 59)
    )
}
fn ts_syslog(r: &mut Rng) -> String {
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        r.pick(MONTHS),
        r.range(1, 28),
        r.range(1, 23),
        r.range(1, 59),
        r.range(1, 59)
    )
}

/// A noise fragment with no PHI (hard negatives).
fn noise(r: &mut Rng) -> String {
    match r.below(22) {
        16 => r
            .pick(&[
                "Internal Server Error",
                "Bad Gateway from upstream",
                "Page Not Found",
                "Grant Type invalid",
                "Connection reset by peer",
                "Service Unavailable",
            ])
            .to_owned(),
        17 => format!(
            "site=\"{}\"",
            r.pick(&[
                "Virginia Beach clinic",
                "Washington Hospital Center",
                "Georgia Power outage",
                "Jordan Valley campus",
                "Austin Regional lab",
                "Florence Nightingale wing",
                "Sydney Harbour office"
            ])
        ),
        18 => format!(
            "calver={}.{:02}.{:02}",
            r.range(2019, 2025),
            r.range(1, 12),
            r.range(1, 28)
        ),
        19 => format!(
            "checksum={}",
            r.range(1_000_000_000_000_000, 9_999_999_999_999_999)
        ),
        20 => format!(
            "lib=openssl-{}.{}.{} os=10.0.{}",
            r.range(1, 3),
            r.range(0, 9),
            r.range(0, 20),
            r.range(10000, 22999)
        ),
        21 => format!(
            "git_sha={} uuid={}",
            r.hex(40),
            uuid(r).to_ascii_uppercase()
        ),
        0 => format!("request_id={}", uuid(r)),
        1 => format!("sha256={}", r.hex(64)),
        2 => format!("duration={}ms", r.range(1, 99999)),
        3 => format!(
            "version=v{}.{}.{}",
            r.range(0, 9),
            r.range(0, 30),
            r.range(0, 99)
        ),
        4 => format!("upstream=127.0.0.1:{}", r.range(1024, 65535)),
        5 => format!("bytes={}", r.range(100, 9_999_999)),
        6 => format!("trace={}", r.hex(32)),
        7 => format!("order_id={}", r.range(100_000, 99_999_999)),
        8 => format!("ref={}", bad_ssn(r)),
        9 => format!("retry_after={}s", r.range(1, 600)),
        10 => format!("txn={}", r.range(1_000_000_000_000, 9_999_999_999_999_999)),
        11 => format!("build=2024.{}.{}", r.range(1, 12), r.range(100, 999)),
        12 => r
            .pick(&[
                "Will retry in 5s",
                "May not be null",
                "Grant access denied for role",
                "Mark Complete clicked",
                "Bill Payment service unavailable",
            ])
            .to_owned(),
        13 => format!("epoch_ms={}", r.range(1_600_000_000_000, 1_800_000_000_000)),
        14 => format!("port={} pid={}", r.range(1024, 65535), r.range(100, 99999)),
        _ => format!(
            "mac={}:{}:{}:{}:{}:{}",
            r.hex(2),
            r.hex(2),
            r.hex(2),
            r.hex(2),
            r.hex(2),
            r.hex(2)
        ),
    }
}

/// A PHI fragment `key=value` (or prose) appended to `l`.
fn phi(r: &mut Rng, l: &mut Line) {
    match r.below(17) {
        0 | 1 => {
            let v = ssn(r);
            l.lit(r.pick(&["ssn=", "SSN: ", "social "])).phi("ssn", &v);
        }
        2 => {
            let v = ssn(r).replace('-', "");
            l.lit("ssn=").phi("ssn", &v);
        }
        3 | 4 => {
            let v = phone(r);
            l.lit(r.pick(&["phone=", "callback ", "fax: "]))
                .phi("phone", &v);
        }
        5 | 6 => {
            let v = email(r);
            l.lit(r.pick(&["email=", "user ", "notify "]))
                .phi("email", &v);
        }
        7 => {
            let v = format!(
                "https://portal.{}/patients/{}",
                r.pick(DOMAINS),
                r.range(1, 99999)
            );
            l.lit("link=").phi("url", &v);
        }
        8 => {
            let v = ipv4(r);
            l.lit("client=").phi("ipv4", &v);
        }
        9 => {
            let v = ipv6(r);
            l.lit("client=").phi("ipv6", &v);
        }
        10 => {
            let v = dob(r);
            l.lit(r.pick(&["dob=", "born ", "admitted "]))
                .phi("date", &v);
        }
        11 => {
            let z = format!("{:05}", r.range(1001, 99950));
            l.lit("addr=\"12 Main St, Springfield, ")
                .lit(r.pick(STATES))
                .lit(" ")
                .phi("zip", &z)
                .lit("\"");
        }
        12 => {
            let v = card(r);
            l.lit(r.pick(&["card=", "pan "])).phi("card", &v);
        }
        13 => {
            let v = vin(r);
            l.lit("vin=").phi("vin", &v);
        }
        14 | 15 => {
            let v = name(r);
            l.lit(r.pick(&["patient ", "for ", "name=\"", "by "]))
                .phi("name", &v);
        }
        _ => match r.below(3) {
            0 => {
                let v = format!("MRN-{:07}", r.range(0, 9_999_999));
                l.lit("mrn=").phi("mrn", &v);
            }
            1 => {
                let v = format!("ACCT-{:08}", r.range(0, 99_999_999));
                l.lit("account ").phi("account", &v);
            }
            _ => {
                let v = format!("SN-{}", r.hex(10).to_ascii_uppercase());
                l.lit("device ").phi("device", &v);
            }
        },
    }
}

fn body(r: &mut Rng, l: &mut Line, with_phi: bool) {
    let n = r.range(1, 3);
    let at = r.below(n);
    for i in 0..n {
        if i > 0 {
            l.lit(" ");
        }
        if with_phi && i == at {
            phi(r, l);
        } else {
            let s = noise(r);
            l.lit(&s);
        }
    }
}

/// One log line in a randomly chosen real-world format.
pub fn line(r: &mut Rng) -> Line {
    let with_phi = r.chance(45);
    let mut l = Line::default();
    match r.below(8) {
        0 => {
            let ts = ts_iso(r);
            l.lit(&format!(
                "{{\"ts\":\"{ts}\",\"level\":\"{}\",\"target\":\"phivault::api\",\"msg\":\"",
                r.pick(&["info", "warn", "error"])
            ));
            body(r, &mut l, with_phi);
            l.lit(&format!("\",\"span\":{{\"request_id\":\"{}\"}}}}", uuid(r)));
        }
        1 => {
            let ip = ipv4(r);
            l.phi("ipv4", &ip).lit(&format!(
                " - - [{}] \"GET /api/v1/records/{}?",
                ts_nginx(r),
                r.range(1, 99999)
            ));
            body(r, &mut l, with_phi);
            l.lit(&format!(" HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\"", r.pick(&["200", "404", "500"]), r.range(100, 99999)));
        }
        2 => {
            l.lit(&format!(
                "{} api-{} phivault[{}]: ",
                ts_syslog(r),
                r.range(1, 9),
                r.range(100, 65000)
            ));
            body(r, &mut l, with_phi);
        }
        3 => {
            l.lit(&format!(
                "{} ERROR [main] c.e.p.PatientService - lookup failed: ",
                ts_iso(r).replace('T', " ")
            ));
            body(r, &mut l, with_phi);
        }
        4 => {
            if r.chance(50) {
                l.lit(&format!(
                    "\tat com.example.phivault.{}Service.handle({}Service.java:{})",
                    r.pick(&["Patient", "Record", "Audit"]),
                    r.pick(&["Patient", "Record", "Audit"]),
                    r.range(10, 999)
                ));
            } else {
                l.lit("java.lang.IllegalStateException: ");
                body(r, &mut l, with_phi);
            }
        }
        5 => {
            if r.chance(40) {
                l.lit(&format!(
                    "  File \"/srv/app/handlers/{}.py\", line {}, in handle",
                    r.pick(&["intake", "billing", "export"]),
                    r.range(1, 900)
                ));
            } else {
                l.lit(r.pick(&["ValueError: ", "KeyError: ", "RuntimeError: "]));
                body(r, &mut l, with_phi);
            }
        }
        6 => {
            l.lit(&format!(
                "thread 'tokio-runtime-worker' panicked at src/{}.rs:{}:{}: ",
                r.pick(&["store", "api", "export"]),
                r.range(1, 800),
                r.range(1, 80)
            ));
            body(r, &mut l, with_phi);
        }
        _ => {
            l.lit(&format!("time={} level=info msg=\"", ts_iso(r)));
            body(r, &mut l, with_phi);
            l.lit("\" component=intake");
        }
    }
    l
}

/// The whole corpus as JSONL text.
pub fn corpus(lines: usize) -> String {
    let mut r = Rng::new(0x5eed_0fc0_4905);
    let mut out = String::new();
    for _ in 0..lines {
        let l = line(&mut r);
        let labels: Vec<serde_json::Value> = l
            .labels
            .iter()
            .map(|(k, s, e)| serde_json::json!({"kind": k, "start": s, "end": e}))
            .collect();
        let v = serde_json::json!({"line": l.text, "labels": labels});
        writeln!(out, "{v}").unwrap();
    }
    out
}
