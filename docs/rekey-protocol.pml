/* The qkd-secoc rekey protocol (docs/rekey-protocol.md) as a Promela model,
 * checked with spin by `make model-check`. The document's section "The
 * model" says which code each part stands for, what is abstracted, and
 * the bounds it is checked with.
 *
 * A message is its type and the fields the protocol decides on. The MACs
 * are modelled by what the attacker can send: any frame it has seen, again,
 * at any moment (it holds no keys), plus ACTIVATE frames with any epoch
 * number (a slave without that epoch's keys cannot check their MAC; the
 * forgery's key field is 0, which no slave's pending key matches). Nonces
 * are numbers never used twice. Timers are guards: a retry or a JOIN goes
 * out when nothing is in flight (retry_ms passed); the
 * activation deadline may pass at any moment, and passes at the latest after
 * DEADLINE retries. */

#ifndef MAXE
#define MAXE 2      /* epochs the master may draw: 1..MAXE */
#endif
#ifndef REBOOTS
#define REBOOTS 1   /* reboots, of any nodes together */
#endif
#ifndef ATTACKS
#define ATTACKS 1   /* frames the attacker sends (at most 3) */
#endif
#ifndef FAULTS
#define FAULTS 1    /* frames the bus loses or duplicates (or the attacker destroys) */
#endif
#ifndef DEADLINE
#define DEADLINE 3  /* retries before activate_deadline_ms passes */
#endif
#define TRIES 2     /* unanswered ANNOUNCEs before DELIVER (5 in the code) */

#define NS 2        /* slave 0: direct (its own QKD module); slave 1: gateway slave (SHE DELIVER) */
#define DIRECT 0
#define MASTER NS   /* the attacker's name for the master's inbox */
#define CTR(e, d) ((e) * 4 + (d))  /* SHE counter: epoch << 4 | delivery */

/* A timer runs out only when nothing is in flight: a frame that is late
 * (crossing a retry) is a recorded frame the attacker sends again. */
#define quiet (empty(toM) && empty(toS[0]) && empty(toS[1]))

mtype = { ANNOUNCE, DELIVER, ACTIVATE, ACK, NACK, DELIVERED, JOIN };

/* To a slave (its ISO-TP channel and the ACTIVATE broadcast):
 *   type, epoch, key (the QKD key drawn for the epoch), SHE counter, nonce, active.
 * To the master: type, node, epoch, x (JOIN: boot; DELIVERED: SHE counter), nonce. */
chan toS[NS] = [2] of { mtype, byte, byte, byte, byte, bool };
chan toM = [2] of { mtype, byte, byte, byte, byte };

/* Ghost state: what the properties talk about; the protocol never reads it. */
byte keyof[MAXE + 1];      /* the QKD key drawn for each epoch (0: none) */
byte drawn;                /* QKD keys drawn */
bool announced[MAXE + 1];  /* the master made this epoch pending */
byte held[NS];             /* the newest epoch each slave ever installed */
byte held_act[NS];         /* the newest epoch each slave ever had active */
byte nonces;               /* nonces drawn (0 is NO_NONCE) */

byte reboots, faults;
byte attacks;  /* ACTIVATEs forged */

/* The attacker's recordings (ATTACKS at most: it sends nothing else). */
byte rec_n;
bool rec_used[3];
mtype rec_t[3];
byte rec_dst[3], rec_a[3], rec_b[3], rec_c[3], rec_d[3];
bool rec_f[3];

/* Master (rekey/master.py). Persisted: m_epoch, join_boot. */
byte m_epoch, join_boot[NS];
byte m_cur, m_pend;        /* keys.current, keys.pending (0: none) */
bool m_dist;               /* state _DISTRIBUTING */
byte dl;                   /* retries since the announce (the deadline) */
byte holds[NS];            /* the newest epoch each slave proved it holds */
byte join_nonce[NS], tries[NS];
bool by_deliver[NS];
#define U(s, e) ((s) * (MAXE + 1) + (e))
byte upd[NS * (MAXE + 1)];   /* updates[epoch]: the SHE counter + 1 of its update, 0 none */
byte ndel[NS * (MAXE + 1)];  /* deliveries[epoch]: SHE counters spent on it */

/* Slaves (rekey/slave.py, keyslots.py). Persisted: s_epoch, s_she, s_boot. */
byte s_epoch[NS], s_she[NS], s_boot[NS];
byte s_cur[NS], s_curkey[NS], s_pend[NS], s_pendkey[NS];  /* keys.current, keys.pending */
bool synced[NS];
byte nonce[NS];            /* 0: not joining */
mtype ans_t[NS];
byte ans_e[NS], ans_x[NS]; /* the last answer, repeated on request */

inline record(qdst, qt, qa, qb, qc, qd, qf) {
	if
	:: rec_n + attacks < ATTACKS ->
		rec_t[rec_n] = qt; rec_dst[rec_n] = qdst;
		rec_a[rec_n] = qa; rec_b[rec_n] = qb; rec_c[rec_n] = qc; rec_d[rec_n] = qd; rec_f[rec_n] = qf;
		rec_n++
	:: true
	fi
}

/* A frame on the bus: seen by the attacker, then lost, duplicated or delivered. */
inline to_slave(qs, qt, qe, qk, qc, qn, qact) {
	record(qs, qt, qe, qk, qc, qn, qact);
	if
	:: faults < FAULTS -> faults++
	:: faults < FAULTS && len(toS[qs]) == 0 -> faults++; toS[qs]!qt, qe, qk, qc, qn, qact; toS[qs]!qt, qe, qk, qc, qn, qact
	:: nfull(toS[qs]) -> toS[qs]!qt, qe, qk, qc, qn, qact
	fi
}

inline to_master(qt, qs, qe, qx, qn) {
	record(MASTER, qt, qs, qe, qx, qn, 0);
	if
	:: faults < FAULTS -> faults++
	:: faults < FAULTS && len(toM) == 0 -> faults++; toM!qt, qs, qe, qx, qn; toM!qt, qs, qe, qx, qn
	:: nfull(toM) -> toM!qt, qs, qe, qx, qn
	fi
}

/* ------------------------------------------------------------------ master */

/* _update: one SHE counter per epoch and slave, until the slave reboots. */
inline update(qs, qe) {
	if
	:: upd[U(qs, qe)] == 0 ->
		assert(ndel[U(qs, qe)] < 4);
		upd[U(qs, qe)] = CTR(qe, ndel[U(qs, qe)]) + 1; ndel[U(qs, qe)]++
	:: else -> skip
	fi
}
#define upd_c(s, e) (upd[U(s, e)] - 1)

/* _send_pending: ANNOUNCE, or the pending DELIVER (the same SHE counter while it lasts). */
inline send_pending(qs) {
	if
	:: by_deliver[qs] -> update(qs, m_pend); to_slave(qs, DELIVER, m_pend, keyof[m_pend], upd_c(qs, m_pend), join_nonce[qs], 0)
	:: else -> to_slave(qs, ANNOUNCE, m_pend, keyof[m_pend], 0, join_nonce[qs], 0)
	fi
}

inline send_next(qs) {
	if
	:: !by_deliver[qs] && tries[qs] >= TRIES -> by_deliver[qs] = 1
	:: else -> skip
	fi;
	send_pending(qs);
	tries[qs]++; dl++
}

inline clear_updates(qs) {
	p = 0;
	do
	:: p <= MAXE -> upd[U(qs, p)] = 0; p++
	:: else -> p = 0; break
	od
}

inline new_epoch() {
	m_epoch++;  /* persisted before the key is used */
	assert(keyof[m_epoch] == 0);
	drawn++; keyof[m_epoch] = drawn;
	m_pend = m_epoch; announced[m_pend] = 1; m_dist = 1; dl = 0;
	tries[0] = 0; tries[1] = 0; by_deliver[0] = 0; by_deliver[1] = 1
}

/* poll(): activation as soon as every slave proved it holds the pending
 * epoch or the deadline passed, in the step that made it so. */
inline poll() {
	if
	:: m_dist && ((holds[0] == m_pend && holds[1] == m_pend) || dl >= DEADLINE) ->
		m_cur = m_pend; m_pend = 0; m_dist = 0; dl = 0;
		beacon()
	:: else -> skip
	fi
}

#define beacon_matters(s) (m_cur != 0 && s_cur[s] != m_cur && (nonce[s] == 0 || s_pend[s] == m_cur))

inline beacon() {
	to_slave(0, ACTIVATE, m_cur, keyof[m_cur], 0, 0, 0);
	to_slave(1, ACTIVATE, m_cur, keyof[m_cur], 0, 0, 0)
}

inline master_boot() {
	m_cur = 0; m_pend = 0; m_dist = 0;
	holds[0] = 0; holds[1] = 0; join_nonce[0] = 0; join_nonce[1] = 0;
	clear_updates(0); clear_updates(1);
	p = 0;
	do
	:: p < NS * (MAXE + 1) -> ndel[p] = 0; p++
	:: else -> p = 0; break
	od;
	new_epoch()  /* start(): a new epoch at every start, keys never persist */
}

active proctype Master() {
	mtype t; byte n, e, x, no, p;
	atomic { master_boot() };
end:
	do
	/* A new epoch every rekey period or at 80% of a key's life (at start-up: master_boot). */
	:: atomic { !m_dist && m_epoch < MAXE -> new_epoch() }
	/* Retries to a slave that has not proved it holds the pending epoch. */
	:: atomic { m_dist && holds[0] != m_pend && quiet -> send_next(0); poll() }
	:: atomic { m_dist && holds[1] != m_pend && quiet -> send_next(1); poll() }
	/* The beacon: ACTIVATE(current) every retry_ms. (Left out where it
	 * changes nothing: to a slave on the master's epoch, or joining already
	 * without that epoch pending.) */
	:: atomic { beacon_matters(0) && quiet -> to_slave(0, ACTIVATE, m_cur, keyof[m_cur], 0, 0, 0) }
	:: atomic { beacon_matters(1) && quiet -> to_slave(1, ACTIVATE, m_cur, keyof[m_cur], 0, 0, 0) }
	:: atomic { toM?t, n, e, x, no ->
		if
		:: t == JOIN ->
			if
			:: x < join_boot[n] -> skip  /* an earlier boot: a replay */
			:: else ->
				if
				:: x > join_boot[n] ->  /* a new boot: it lost its keys */
					join_boot[n] = x; holds[n] = 0; clear_updates(n); tries[n] = 0
				:: else -> skip
				fi;
				join_nonce[n] = no;
				if
				:: m_cur != 0 -> update(n, m_cur); to_slave(n, DELIVER, m_cur, keyof[m_cur], upd_c(n, m_cur), no, 1)
				:: else -> skip
				fi;
				if  /* the rekey under way at once, with this nonce (not a try) */
				:: m_dist && holds[n] != m_pend -> send_pending(n)
				:: else -> skip
				fi;
				if  /* join_retry_ms passed: the deadline comes closer */
				:: m_dist -> dl++
				:: else -> skip
				fi
			fi
		:: t != JOIN ->
			/* the keys the message is under: pending if it names it, else current */
			p = (m_dist && e == m_pend -> m_pend : m_cur);
			if
			:: p == 0 || e != p || e <= holds[n] -> skip  /* stale, or proved already */
			:: else ->
				if
				:: t == ACK -> holds[n] = e
				:: t == NACK && p == m_pend && m_dist && !by_deliver[n] -> by_deliver[n] = 1
				:: t == DELIVERED && upd[U(n, e)] == x + 1 -> holds[n] = e  /* M5 */
				:: else -> skip
				fi
			fi
		fi;
		poll();
		t = 0; n = 0; e = 0; x = 0; no = 0; p = 0
	}
	/* A reboot: RAM lost; the epoch number and the join boots kept. */
	:: atomic { reboots < REBOOTS && m_epoch < MAXE -> reboots++; master_boot() }
	od
}

/* ------------------------------------------------------------------- slave */

inline install(qs, qe, qk, qact) {
	assert(announced[qe]);     /* only an epoch the master announced */
	assert(qk == keyof[qe]);    /* one key per epoch, on every ECU */
#ifndef NOSTORE
	assert(qe >= held[qs]);     /* never back to an older epoch */
#else
	assert(qe > held_act[qs] || (qact && qe == held_act[qs]));  /* flash gone: never back to an older active one */
#endif
	assert(s_cur[qs] != qe && s_pend[qs] != qe);  /* never re-installed while held */
	held[qs] = qe; s_epoch[qs] = qe;
	if
	:: qact ->
		if
		:: s_pend[qs] <= qe -> s_pend[qs] = 0
		:: else -> skip
		fi;
		s_cur[qs] = qe; s_curkey[qs] = qk; held_act[qs] = qe
	:: else -> s_pend[qs] = qe; s_pendkey[qs] = qk
	fi
}

inline activate(qs) {
	assert(announced[s_pend[qs]]);
	assert(s_pend[qs] >= held_act[qs]);
	held_act[qs] = s_pend[qs];
	s_cur[qs] = s_pend[qs]; s_curkey[qs] = s_pendkey[qs]; s_pend[qs] = 0
}

inline joined(qs) {
	synced[qs] = 1;
	if
	:: s_cur[qs] != 0 -> nonce[qs] = 0
	:: else -> skip
	fi
}

inline new_nonce(qs) {
	nonces++; nonce[qs] = nonces
}

inline answer(qs, qt, qe, qx) {
	ans_t[qs] = qt; ans_e[qs] = qe; ans_x[qs] = qx; to_master(qt, qs, qe, qx, 0)
}

/* -DNOSTORE: slaves without flash (unix_ecu.py without --storage): the
 * epoch, SHE counter and boot count restart at every boot. */
inline slave_boot(qs) {
#ifdef NOSTORE
	s_epoch[qs] = 0; s_she[qs] = 0; s_boot[qs] = 0;
#endif
	s_boot[qs]++;
	s_cur[qs] = 0; s_pend[qs] = 0; ans_e[qs] = 0; synced[qs] = 0;
	new_nonce(qs)
}

#define fresh (nonce[s] != 0 && no == nonce[s])

/* -DBROKEN_ROLLBACK: a slave without the epoch check and with a SHE that
 * keeps no counter; the check must find a replayed DELIVER rolling it back
 * (tests/test_model_check.py). */
#ifdef BROKEN_ROLLBACK
#define stale_deliver (s_cur[s] != 0 && e < s_cur[s] && false)
#define she_accepts true
#else
#define stale_deliver (e < s_epoch[s] || (s_cur[s] != 0 && e < s_cur[s]) || (!act && e == s_epoch[s]))
#define she_accepts (c > s_she[s])
#endif

proctype Slave(byte s) {
	mtype t; byte e, k, c, no; bool act;
	slave_boot(s);
end:
	do
	/* JOIN every join_retry_ms while joining. */
	:: atomic { nonce[s] != 0 && quiet ->
		to_master(JOIN, s, s_epoch[s], s_boot[s], nonce[s]) }
	/* Implicit activation: a frame verifies under the pending key. */
	:: atomic { s_pend[s] != 0 && m_cur == s_pend[s] -> activate(s); joined(s) }
	:: atomic { toS[s]?t, e, k, c, no, act ->
		if
		:: t == ANNOUNCE ->
			if
			:: !synced[s] && !fresh -> skip  /* rekey_not_joined */
			:: else ->
				if
				:: ans_e[s] == e -> to_master(ans_t[s], s, e, ans_x[s], 0)
				:: else ->
					if
					:: e <= s_epoch[s] || s_cur[s] == e || s_pend[s] == e -> skip  /* stale */
					:: else ->
						synced[s] = 1;
						if
						:: s == DIRECT -> install(s, e, k, 0); answer(s, ACK, e, 0)
						:: true -> answer(s, NACK, e, 0)  /* no module, or no key in it */
						fi
					fi
				fi
			fi
		:: t == DELIVER ->
			if
			:: (act || !synced[s]) && !fresh -> skip  /* stale, rekey_not_joined */
			:: else ->
				if
				:: s_cur[s] == e || s_pend[s] == e ->  /* held: never re-installed */
					if
					:: act -> if :: s_cur[s] != e -> activate(s) :: else -> skip fi; joined(s)
					:: else -> skip
					fi;
					if
					:: ans_e[s] == e -> to_master(ans_t[s], s, e, ans_x[s], 0)
					:: else -> answer(s, ACK, e, 0)
					fi
				:: else ->
					if
					:: stale_deliver -> skip
					:: else ->
						if
						:: she_accepts ->  /* the SHE loads only a higher counter */
							s_she[s] = c;
							install(s, e, k, act);
							if :: act || fresh -> joined(s) :: else -> skip fi;
							answer(s, DELIVERED, e, c)
						:: else -> skip  /* she_refused */
						fi
					fi
				fi
			fi
		:: t == ACTIVATE ->
			if
			:: s_cur[s] == e -> skip
			:: s_cur[s] != e && s_pend[s] == e ->
				if
				:: k == s_pendkey[s] -> activate(s); joined(s)
				:: else -> skip  /* rekey_bad_activate */
				fi
			:: else ->
				if  /* newer than anything we hold: rejoin */
				:: e > s_pend[s] && e > s_cur[s] && nonce[s] == 0 -> new_nonce(s)
				:: else -> skip
				fi
			fi
		:: else -> skip
		fi;
		t = 0; e = 0; k = 0; c = 0; no = 0; act = 0
	}
	:: atomic { reboots < REBOOTS -> reboots++; slave_boot(s) }
	od
}

/* ---------------------------------------------------------------- attacker */

/* Replays a recorded frame, or forges an ACTIVATE for any epoch. */
#define can_replay(i) (quiet && i < rec_n && !rec_used[i] && \
	((rec_dst[i] == MASTER && nfull(toM)) || (rec_dst[i] != MASTER && nfull(toS[rec_dst[i]]))))
inline replay(qi) {
	rec_used[qi] = 1;
	if
	:: rec_dst[qi] == MASTER -> toM!rec_t[qi], rec_a[qi], rec_b[qi], rec_c[qi], rec_d[qi]
	:: else -> toS[rec_dst[qi]]!rec_t[qi], rec_a[qi], rec_b[qi], rec_c[qi], rec_d[qi], rec_f[qi]
	fi
}

active proctype Attacker() {
	byte e, s;
end:
	do
	:: atomic { can_replay(0) -> replay(0) }
	:: atomic { can_replay(1) -> replay(1) }
	:: atomic { can_replay(2) -> replay(2) }
	:: atomic { quiet && rec_n + attacks < ATTACKS ->
		select(e : 1 .. MAXE + 1); select(s : 0 .. NS - 1);
		if
		:: nfull(toS[s]) -> toS[s]!ACTIVATE, e, 0, 0, 0, 0; attacks++
		:: full(toS[s]) -> skip
		fi;
		e = 0; s = 0
	}
	od
}

init {
	atomic { run Slave(0); run Slave(1) }
}

/* Safety is in the assertions of install(), activate() and new_epoch()
 * (run without the claim, with deadlock detection); liveness is this claim,
 * checked with weak fairness (pan -a -f). */
#define converged (!m_dist && m_cur != 0 && s_cur[0] == m_cur && s_cur[1] == m_cur)
ltl live { <> [] converged }
