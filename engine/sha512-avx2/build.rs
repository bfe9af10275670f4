//! Writes `$OUT_DIR/blocks.rs` (and its tables, `constants.rs`): the x86-64 assembly of [`blocks`](src/lib.rs), SHA-512's
//! compression function over groups of four consecutive blocks, as one naked function.
//!
//! # The shape of the generated code
//! - **Message schedules, four blocks at once, in AVX2.** Word `t` of the four blocks shares
//!   one 256-bit register (lane `l` = block `l`), so `W[t]` never depends on another word of its
//!   own register and each schedule step is plain vertical arithmetic. `W[t] + K[t]` goes to a
//!   stack table `WK[t][lane]`.
//! - **Rounds in scalar BMI2** (`rorx` and `andn` keep sources intact), one block at a time,
//!   reading `W + K` from the table: 22 ALU operations a round, which on four integer ALUs is
//!   the bound. `Maj(a, b, c) = ((a ^ b) & (b ^ c)) ^ b`, where `b ^ c` is the previous round's
//!   `a ^ b` (two registers swap roles each round).
//! - **The next group's schedule is computed during this group's rounds**: two steps spread
//!   evenly through each run of eight rounds, so the vector units work while the integer units
//!   do. Two stack regions (`WK`, `W` and a copy of `K` broadcast to four lanes each) alternate
//!   between the group being hashed and the group being scheduled.
//!
//! The register names of the eight working variables rotate each round and return to their
//! places after eight, so eight rounds are one loop body.
use std::fmt::Write as _;

const K: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

// The stack frame, from `rsp` after it is aligned to 64 bytes.
const SAVED_RSP: usize = 0; // the caller's rsp (after the six pushes)
const STATE_PTR: usize = 8;
const DATA_PTR: usize = 16; // the group being hashed
const GROUPS: usize = 24; // groups left, this one included
const STEPS: usize = 32; // pairs of schedule steps left for the next group
const LANE: usize = 40; // 8 × the block being hashed within its group
const ITER: usize = 48; // runs of eight rounds left in this block
const CUR: usize = 56; // offset from rsp of the region being hashed
const NEXT: usize = 64; // offset from rsp of the region being scheduled
/// A region: `WK[80][4]`, then `W[80][4]`, then `K[80]` broadcast to four lanes.
const WK_OFF: usize = 0;
const W_OFF: usize = 80 * 32;
const K_OFF: usize = 160 * 32;
const REGION_SIZE: usize = 240 * 32;
const REGION_A: usize = 128;
const REGION_B: usize = REGION_A + REGION_SIZE;
const FRAME: usize = REGION_B + REGION_SIZE + 64;
/// Stack pages are touched in this order, top down, so the frame never skips a guard page.
const PAGE: usize = 4096;

/// The working variables `a..h` at the start of every eighth round.
const STATE: [&str; 8] = ["rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11"];
const T0: &str = "r12";
const T1: &str = "r13";
/// `b ^ c` and the register that receives `a ^ b`; they swap roles each round.
const PQ: [&str; 2] = ["r15", "rdi"];

struct Asm(Vec<String>);

impl Asm {
    fn e(&mut self, line: impl Into<String>) {
        self.0.push(line.into());
    }

    /// Loads the four blocks at `[data + 128 l]` (big-endian words) into `W[0..16]` and
    /// `WK[0..16]` of the region at `base`: per four words, a byte swap and a 4×4 transpose.
    fn load_group(&mut self, data: &str, base: &str) {
        for j in 0..4 {
            for l in 0..4 {
                self.e(format!("vmovdqu ymm{l}, [{data} + {}]", 128 * l + 32 * j));
                self.e(format!("vpshufb ymm{l}, ymm{l}, ymm15"));
            }
            self.e("vpunpcklqdq ymm4, ymm0, ymm1");
            self.e("vpunpckhqdq ymm5, ymm0, ymm1");
            self.e("vpunpcklqdq ymm6, ymm2, ymm3");
            self.e("vpunpckhqdq ymm7, ymm2, ymm3");
            self.e("vperm2i128 ymm0, ymm4, ymm6, 0x20");
            self.e("vperm2i128 ymm1, ymm5, ymm7, 0x20");
            self.e("vperm2i128 ymm2, ymm4, ymm6, 0x31");
            self.e("vperm2i128 ymm3, ymm5, ymm7, 0x31");
            for k in 0..4 {
                let t = 4 * j + k;
                self.e(format!("vmovdqa [{base} + {}], ymm{k}", W_OFF + 32 * t));
                self.e(format!(
                    "vpaddq ymm{k}, ymm{k}, [{base} + {}]",
                    K_OFF + 32 * t
                ));
                self.e(format!("vmovdqa [{base} + {}], ymm{k}", WK_OFF + 32 * t));
            }
        }
    }

    /// One schedule step: `W[t] = W[t-16] + σ0(W[t-15]) + W[t-7] + σ1(W[t-2])` for four
    /// blocks, and `WK[t] = W[t] + K[t]`; `p` addresses `WK[t]` of the region.
    fn step(&mut self, p: &str, v: [&str; 5]) {
        let [x, y, s0, s1, tmp] = v;
        self.e(format!("vmovdqa {x}, [{p} + {}]", W_OFF - 15 * 32));
        self.e(format!("vmovdqa {y}, [{p} + {}]", W_OFF - 2 * 32));
        // σ0(x) = (x ⋙ 1) ^ (x ⋙ 8) ^ (x >> 7); the rotation by 8 is a byte shuffle.
        self.e(format!("vpsrlq {s0}, {x}, 1"));
        self.e(format!("vpsllq {tmp}, {x}, 63"));
        self.e(format!("vpxor {s0}, {s0}, {tmp}"));
        self.e(format!("vpshufb {tmp}, {x}, ymm14"));
        self.e(format!("vpxor {s0}, {s0}, {tmp}"));
        self.e(format!("vpsrlq {tmp}, {x}, 7"));
        self.e(format!("vpxor {s0}, {s0}, {tmp}"));
        // σ1(y) = (y ⋙ 19) ^ (y ⋙ 61) ^ (y >> 6)
        self.e(format!("vpsrlq {s1}, {y}, 19"));
        self.e(format!("vpsllq {tmp}, {y}, 45"));
        self.e(format!("vpxor {s1}, {s1}, {tmp}"));
        self.e(format!("vpsrlq {tmp}, {y}, 61"));
        self.e(format!("vpxor {s1}, {s1}, {tmp}"));
        self.e(format!("vpsllq {tmp}, {y}, 3"));
        self.e(format!("vpxor {s1}, {s1}, {tmp}"));
        self.e(format!("vpsrlq {tmp}, {y}, 6"));
        self.e(format!("vpxor {s1}, {s1}, {tmp}"));
        self.e(format!("vpaddq {s0}, {s0}, [{p} + {}]", W_OFF - 16 * 32));
        self.e(format!("vpaddq {s1}, {s1}, [{p} + {}]", W_OFF - 7 * 32));
        self.e(format!("vpaddq {s0}, {s0}, {s1}"));
        self.e(format!("vmovdqa [{p} + {W_OFF}], {s0}"));
        self.e(format!("vpaddq {s0}, {s0}, [{p} + {K_OFF}]"));
        self.e(format!("vmovdqa [{p}], {s0}"));
    }

    /// One round with `W[t] + K[t]` at `[rbp + off]`; returns the renamed variables.
    fn round(
        &mut self,
        v: [&'static str; 8],
        pq: [&'static str; 2],
        off: usize,
    ) -> ([&'static str; 8], [&'static str; 2]) {
        let [a, b, c, d, e, f, g, h] = v;
        let [p, q] = pq;
        self.e(format!("add {h}, [rbp + {off}]"));
        self.e(format!("andn {q}, {e}, {g}")); // ~e & g
        self.e(format!("rorx {T0}, {e}, 14"));
        self.e(format!("rorx {T1}, {e}, 18"));
        self.e(format!("add {h}, {q}"));
        self.e(format!("xor {T0}, {T1}"));
        self.e(format!("mov {T1}, {e}"));
        self.e(format!("and {T1}, {f}")); // e & f
        self.e(format!("add {h}, {T1}")); // h + W + K + Ch(e, f, g)
        self.e(format!("rorx {T1}, {e}, 41"));
        self.e(format!("xor {T0}, {T1}")); // Σ1(e)
        self.e(format!("add {h}, {T0}")); // T1
        self.e(format!("add {d}, {h}")); // the next e
        self.e(format!("rorx {T0}, {a}, 28"));
        self.e(format!("rorx {T1}, {a}, 34"));
        self.e(format!("mov {q}, {a}"));
        self.e(format!("xor {q}, {b}")); // a ^ b: the next round's b ^ c
        self.e(format!("xor {T0}, {T1}"));
        self.e(format!("and {p}, {q}"));
        self.e(format!("rorx {T1}, {a}, 39"));
        self.e(format!("xor {p}, {b}")); // Maj(a, b, c)
        self.e(format!("xor {T0}, {T1}")); // Σ0(a)
        self.e(format!("add {h}, {p}"));
        self.e(format!("add {h}, {T0}")); // the next a
        ([h, a, b, c, d, e, f, g], [q, p])
    }

    /// Eight rounds reading `WK` at `[rbp]`; the names come back to where they started.
    fn rounds8(&mut self) {
        let (mut v, mut pq) = (STATE, PQ);
        for k in 0..8 {
            (v, pq) = self.round(v, pq, 32 * k);
        }
        assert!(v == STATE && pq == PQ);
    }

    /// The instructions `f` would emit, taken out of the stream.
    fn capture(&mut self, f: impl FnOnce(&mut Self)) -> Vec<String> {
        let mark = self.0.len();
        f(self);
        self.0.split_off(mark)
    }
}

fn generate() -> Vec<String> {
    let mut a = Asm(Vec::new());
    // Prologue: callee-saved registers, then a 64-byte-aligned frame entered a page at a time.
    for r in ["rbp", "rbx", "r12", "r13", "r14", "r15"] {
        a.e(format!("push {r}"));
    }
    a.e("mov rax, rsp");
    for _ in 0..FRAME / PAGE {
        a.e(format!("sub rsp, {PAGE}"));
        a.e("or qword ptr [rsp], 0");
    }
    a.e(format!("sub rsp, {}", FRAME % PAGE));
    a.e("and rsp, -64");
    a.e("or qword ptr [rsp], 0");
    a.e(format!("mov [rsp + {SAVED_RSP}], rax"));
    a.e(format!("mov [rsp + {STATE_PTR}], rdi"));
    a.e(format!("mov [rsp + {DATA_PTR}], rsi"));
    a.e(format!("mov [rsp + {GROUPS}], rdx"));
    a.e(format!("mov qword ptr [rsp + {CUR}], {REGION_A}"));
    a.e(format!("mov qword ptr [rsp + {NEXT}], {REGION_B}"));
    a.e("lea rax, [rip + {k4}]");
    a.e("vmovdqa ymm15, [rip + {bswap}]");
    a.e("vmovdqa ymm14, [rip + {ror8}]");
    for t in 0..80 {
        a.e(format!("vmovdqa ymm0, [rax + {}]", 32 * t));
        a.e(format!(
            "vmovdqa [rsp + {}], ymm0",
            REGION_A + K_OFF + 32 * t
        ));
        a.e(format!(
            "vmovdqa [rsp + {}], ymm0",
            REGION_B + K_OFF + 32 * t
        ));
    }
    // The first group's schedule, whole.
    a.e(format!("lea rdi, [rsp + {REGION_A}]"));
    a.load_group("rsi", "rdi");
    a.e(format!("lea rsi, [rsp + {}]", REGION_A + 16 * 32));
    a.e("mov ecx, 64");
    a.e("2:");
    a.step("rsi", ["ymm0", "ymm1", "ymm2", "ymm3", "ymm4"]);
    a.e("add rsi, 32");
    a.e("dec ecx");
    a.e("jnz 2b");

    // Per group: start the next group's schedule (its loads now, its steps during the rounds).
    a.e("3:");
    a.e(format!("mov qword ptr [rsp + {STEPS}], 0"));
    a.e(format!("cmp qword ptr [rsp + {GROUPS}], 1"));
    a.e("je 4f");
    a.e(format!("mov rax, [rsp + {DATA_PTR}]"));
    a.e(format!("mov rdi, [rsp + {NEXT}]"));
    a.e("add rdi, rsp");
    a.load_group("rax + 512", "rdi");
    a.e(format!("mov qword ptr [rsp + {STEPS}], 32"));
    a.e(format!("lea rsi, [rdi + {}]", 16 * 32));
    a.e("4:");
    a.e(format!("mov qword ptr [rsp + {LANE}], 0"));
    // Per block of the group.
    a.e("5:");
    a.e(format!("mov rdi, [rsp + {STATE_PTR}]"));
    for (i, r) in STATE.iter().enumerate() {
        a.e(format!("mov {r}, [rdi + {}]", 8 * i));
    }
    a.e(format!("mov rbp, [rsp + {LANE}]"));
    a.e(format!("add rbp, [rsp + {CUR}]"));
    a.e("add rbp, rsp");
    a.e(format!("mov {}, {}", PQ[0], STATE[1]));
    a.e(format!("xor {}, {}", PQ[0], STATE[2]));
    a.e(format!("mov qword ptr [rsp + {ITER}], 10"));
    // Per eight rounds: with two schedule steps woven in while the next group needs them.
    a.e("6:");
    a.e(format!("cmp qword ptr [rsp + {STEPS}], 0"));
    a.e("je 7f");
    let vector = a.capture(|a| {
        a.step("rsi", ["ymm0", "ymm1", "ymm2", "ymm3", "ymm4"]);
        a.step("rsi + 32", ["ymm5", "ymm6", "ymm7", "ymm8", "ymm9"]);
    });
    let scalar = a.capture(Asm::rounds8);
    let (n, m) = (vector.len(), scalar.len());
    let mut vi = 0;
    for (i, ins) in scalar.into_iter().enumerate() {
        while vi < n && vi * m <= i * n {
            a.e(vector[vi].clone());
            vi += 1;
        }
        a.e(ins);
    }
    for ins in &vector[vi..] {
        a.e(ins.clone());
    }
    a.e("add rsi, 64");
    a.e(format!("dec qword ptr [rsp + {STEPS}]"));
    a.e("jmp 8f");
    a.e("7:");
    a.rounds8();
    a.e("8:");
    a.e("add rbp, 256");
    a.e(format!("dec qword ptr [rsp + {ITER}]"));
    a.e("jnz 6b");
    a.e(format!("mov rdi, [rsp + {STATE_PTR}]"));
    for (i, r) in STATE.iter().enumerate() {
        a.e(format!("add [rdi + {}], {r}", 8 * i));
    }
    a.e(format!("add qword ptr [rsp + {LANE}], 8"));
    a.e(format!("cmp qword ptr [rsp + {LANE}], 32"));
    a.e("jne 5b");
    a.e(format!("add qword ptr [rsp + {DATA_PTR}], 512"));
    a.e(format!("mov rax, [rsp + {CUR}]"));
    a.e(format!("mov rcx, [rsp + {NEXT}]"));
    a.e(format!("mov [rsp + {CUR}], rcx"));
    a.e(format!("mov [rsp + {NEXT}], rax"));
    a.e(format!("dec qword ptr [rsp + {GROUPS}]"));
    a.e("jnz 3b");
    a.e("vzeroupper");
    a.e(format!("mov rsp, [rsp + {SAVED_RSP}]"));
    for r in ["r15", "r14", "r13", "r12", "rbx", "rbp"] {
        a.e(format!("pop {r}"));
    }
    a.e("ret");
    a.0
}

/// The byte-shuffle masks: big-endian words, and rotation right by 8 bits.
fn masks() -> ([u64; 4], [u64; 4]) {
    let (mut bswap, mut ror8) = ([0u64; 4], [0u64; 4]);
    for lane in 0..4 {
        let base = 8 * (lane as u64 % 2); // vpshufb indexes within each 128-bit half
        for i in 0..8u64 {
            bswap[lane] |= (base + 7 - i) << (8 * i);
            ror8[lane] |= (base + (i + 1) % 8) << (8 * i);
        }
    }
    (bswap, ror8)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let (bswap, ror8) = masks();
    let mut s = String::new();
    let _ = writeln!(s, "// Generated by build.rs: see it for the design.");
    let k4: Vec<String> = K
        .iter()
        .flat_map(|k| std::iter::repeat_n(format!("{k:#018x}"), 4))
        .collect();
    let k: Vec<String> = K.iter().map(|k| format!("{k:#018x}")).collect();
    let _ = writeln!(s, "/// SHA-512's round constants (FIPS 180-4 §4.2.3).");
    let _ = writeln!(s, "pub(crate) const K: [u64; 80] = [{}];", k.join(", "));
    let _ = writeln!(s, "static K4: Align32<320> = Align32([{}]);", k4.join(", "));
    let hex = |v: &[u64; 4]| {
        v.iter()
            .map(|x| format!("{x:#018x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "static BSWAP: Align32<4> = Align32([{}]);", hex(&bswap));
    let _ = writeln!(s, "static ROR8: Align32<4> = Align32([{}]);", hex(&ror8));
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("constants.rs"), s).expect("OUT_DIR is writable");
    let mut s = String::new();
    let _ = writeln!(s, "core::arch::naked_asm!(");
    for line in generate() {
        let _ = writeln!(s, "    \"{line}\",");
    }
    let _ = writeln!(s, "    k4 = sym K4, bswap = sym BSWAP, ror8 = sym ROR8,");
    let _ = writeln!(s, ")");
    std::fs::write(out.join("blocks.rs"), s).expect("OUT_DIR is writable");
}
