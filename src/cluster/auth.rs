//! Mutual authentication of the manager–worker channel, keyed by the shared
//! token, which never crosses the wire.
//!
//! 1. `hello`: the worker sends a fresh nonce; the manager answers with its own
//!    and proves it knows the token: HMAC-SHA256(token, "manager", both nonces).
//!    The worker checks that proof before it sends anything derived from the
//!    token, so a stranger at `--manager` learns a random nonce and nothing else.
//! 2. Both derive the session key HMAC(token, "session", both nonces). Every
//!    later request carries the session id (the manager's nonce), a sequence
//!    number and HMAC(session key, "request", method, path and query, sequence,
//!    body digest): the first one (`join`) is the worker's proof. Every answer
//!    carries HMAC(session key, "answer", the request's sequence, status, body
//!    digest), which the worker checks before it reads a word of it.
//!
//! Without a token (loopback only) the key is empty: the same exchange, which
//! then proves nothing but costs nothing either. Each part of a MAC is length
//! prefixed, so no two different inputs hash alike.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::token::Token;

type HmacSha256 = Hmac<Sha256>;

/// The session a request belongs to (the manager's nonce).
pub const SESSION_HEADER: &str = "x-dashload-session";
/// The request's sequence number within its session.
pub const SEQ_HEADER: &str = "x-dashload-seq";
/// The request's or the answer's MAC, hex.
pub const PROOF_HEADER: &str = "x-dashload-proof";
/// The body digest signed for an upload: its query carries the file's SHA-256
/// and size, which the manager checks against the bytes.
pub const STREAMED: &str = "streamed";

/// The key both proofs are made with: the token's bytes (empty without one).
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl Key {
    /// The key of `token` (none: the empty key, loopback only).
    pub fn of(token: Option<&Token>) -> Key {
        Key(token.map_or_else(Vec::new, |t| t.secret().as_bytes().to_vec()))
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(b"dashload/cluster/v3");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m
}

fn check(m: HmacSha256, proof_hex: &str) -> bool {
    hex::decode(proof_hex).is_ok_and(|p| m.verify_slice(&p).is_ok())
}

/// A fresh nonce: 32 random bytes, hex.
pub fn nonce() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// True for what [`nonce`] makes (anything else is refused unread).
pub fn is_nonce(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The manager's proof in its `hello` answer.
pub fn manager_proof(key: &Key, worker_nonce: &str, manager_nonce: &str) -> String {
    let m = mac(
        &key.0,
        &[
            b"manager",
            worker_nonce.as_bytes(),
            manager_nonce.as_bytes(),
        ],
    );
    hex::encode(m.finalize().into_bytes())
}

/// True when `proof` is the manager's proof for these nonces (constant time).
pub fn manager_proof_holds(
    key: &Key,
    worker_nonce: &str,
    manager_nonce: &str,
    proof: &str,
) -> bool {
    check(
        mac(
            &key.0,
            &[
                b"manager",
                worker_nonce.as_bytes(),
                manager_nonce.as_bytes(),
            ],
        ),
        proof,
    )
}

/// Hex SHA-256 of a body.
pub fn body_digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// One worker's session: its id and key.
#[derive(Clone)]
pub struct Session {
    /// The manager's nonce.
    pub id: String,
    key: [u8; 32],
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({})", self.id)
    }
}

impl Session {
    /// The session both sides derive after `hello`.
    pub fn derive(key: &Key, worker_nonce: &str, manager_nonce: &str) -> Session {
        let m = mac(
            &key.0,
            &[
                b"session",
                worker_nonce.as_bytes(),
                manager_nonce.as_bytes(),
            ],
        );
        Session {
            id: manager_nonce.to_string(),
            key: m.finalize().into_bytes().into(),
        }
    }

    fn request_mac(&self, method: &str, path: &str, seq: u64, digest: &str) -> HmacSha256 {
        mac(
            &self.key,
            &[
                b"request",
                method.as_bytes(),
                path.as_bytes(),
                &seq.to_be_bytes(),
                digest.as_bytes(),
            ],
        )
    }

    /// A request's proof: `path` is its path and query as sent, `digest` its
    /// body's [`body_digest`] (or [`STREAMED`]).
    pub fn request_proof(&self, method: &str, path: &str, seq: u64, digest: &str) -> String {
        hex::encode(
            self.request_mac(method, path, seq, digest)
                .finalize()
                .into_bytes(),
        )
    }

    /// True when `proof` is this request's proof (constant time).
    pub fn request_holds(
        &self,
        method: &str,
        path: &str,
        seq: u64,
        digest: &str,
        proof: &str,
    ) -> bool {
        check(self.request_mac(method, path, seq, digest), proof)
    }

    fn answer_mac(&self, seq: u64, status: u16, body: &[u8]) -> HmacSha256 {
        mac(
            &self.key,
            &[
                b"answer",
                &seq.to_be_bytes(),
                &status.to_be_bytes(),
                body_digest(body).as_bytes(),
            ],
        )
    }

    /// The proof on the answer to request `seq`.
    pub fn answer_proof(&self, seq: u64, status: u16, body: &[u8]) -> String {
        hex::encode(self.answer_mac(seq, status, body).finalize().into_bytes())
    }

    /// True when `proof` is the manager's on this answer (constant time).
    pub fn answer_holds(&self, seq: u64, status: u16, body: &[u8], proof: &str) -> bool {
        check(self.answer_mac(seq, status, body), proof)
    }
}

/// The sequence numbers a session has used: each is accepted once. Requests of
/// one worker overlap (a heartbeat during an upload), so they may arrive out of
/// order: any number above the floor that was not seen yet is accepted, and
/// the floor rises as the set grows.
#[derive(Debug, Default)]
pub struct Replays {
    floor: u64,
    seen: BTreeSet<u64>,
}

impl Replays {
    /// How many recent numbers are remembered above the floor.
    const WINDOW: usize = 256;

    /// True (and remembered) the first time `seq` comes.
    pub fn accept(&mut self, seq: u64) -> bool {
        if seq <= self.floor || !self.seen.insert(seq) {
            return false;
        }
        while self.seen.len() > Self::WINDOW {
            if let Some(lowest) = self.seen.pop_first() {
                self.floor = lowest;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str) -> Key {
        Key(t.as_bytes().to_vec())
    }

    #[test]
    fn only_the_token_makes_the_managers_proof_and_the_session() {
        let (w, m) = (nonce(), nonce());
        assert!(is_nonce(&w) && w != m);
        let right = key("right-token-0123456789");
        let proof = manager_proof(&right, &w, &m);
        assert!(manager_proof_holds(&right, &w, &m, &proof));
        assert!(!manager_proof_holds(
            &key("wrong-token-0123456789"),
            &w,
            &m,
            &proof
        ));
        // Bound to both nonces and the role: a replayed or reflected proof fails.
        assert!(!manager_proof_holds(&right, &nonce(), &m, &proof));
        assert!(!manager_proof_holds(&right, &m, &w, &proof));
        let s = Session::derive(&right, &w, &m);
        let as_worker = s.request_proof("POST", "/cluster/v3/join", 1, &body_digest(b"{}"));
        assert_ne!(as_worker, proof, "the roles' labels differ");
        assert!(s.request_holds(
            "POST",
            "/cluster/v3/join",
            1,
            &body_digest(b"{}"),
            &as_worker
        ));
        for (method, path, seq, body) in [
            ("PUT", "/cluster/v3/join", 1, &b"{}"[..]),
            ("POST", "/cluster/v3/tick", 1, b"{}"),
            ("POST", "/cluster/v3/join", 2, b"{}"),
            ("POST", "/cluster/v3/join", 1, b"{ }"),
        ] {
            assert!(!s.request_holds(method, path, seq, &body_digest(body), &as_worker));
        }
        let other = Session::derive(&key("wrong-token-0123456789"), &w, &m);
        assert!(!other.request_holds(
            "POST",
            "/cluster/v3/join",
            1,
            &body_digest(b"{}"),
            &as_worker
        ));
        let answer = s.answer_proof(1, 200, b"{\"a\":1}");
        assert!(s.answer_holds(1, 200, b"{\"a\":1}", &answer));
        assert!(!s.answer_holds(2, 200, b"{\"a\":1}", &answer));
        assert!(!s.answer_holds(1, 200, b"{\"a\":2}", &answer));
        assert!(!s.answer_holds(1, 200, b"{\"a\":1}", "not hex"));
        // The empty key (loopback without a token) still runs the same exchange.
        let none = Key::of(None);
        assert!(manager_proof_holds(
            &none,
            &w,
            &m,
            &manager_proof(&none, &w, &m)
        ));
    }

    #[test]
    fn each_sequence_number_is_accepted_once() {
        let mut r = Replays::default();
        assert!(!r.accept(0));
        assert!(r.accept(2));
        assert!(r.accept(1), "out of order is fine");
        assert!(!r.accept(2), "a replay is not");
        for seq in 3..1000 {
            assert!(r.accept(seq));
        }
        assert!(!r.accept(5), "below the window");
        assert!(!r.accept(999));
        assert!(r.accept(1000));
    }
}
