/*
 * Promela model of the dsm coherence protocol (coherence/coh_table.c).
 *
 * NN nodes (one application thread each, OPS accesses per thread) share NP
 * pages homed cyclically. Every transition of the C tables appears here once,
 * tagged "row: <side> <state> <event> [<guard>]" exactly as dsm_coh_table
 * prints it; ctest (coh_model_rows) fails if a C row has no tag here or a tag
 * names no C row. Change both in the same commit.
 *
 * The network is a bag: any message in flight may be delivered next (no
 * ordering between any pair), and so may any RMA completion or a thread's
 * pending fault event.
 *
 * Runs (docs/design.md 4.7), with RUN = 2: pages are homed by blocks of RUN,
 * a fault event may reach the engine as the run of its whole block, an RMA
 * completion may end the runs' two pages at once, and messages carry a count
 * of 1 or 2. A step handles each page of its run in page order through the
 * same rows, and a message a step sends for page p + 1 merges into the same
 * message (type, sender, destination, flags) the step sent for page p, as
 * the C engine coalesces them; a message with count 2 is handled page by
 * page. With RUN = 1 (the default) pages are homed cyclically and nothing
 * merges. Messages a home sends to itself also go through the
 * bag (the C engine handles them at once: one of the interleavings here).
 * The model's RUN pages stand for any run of a home's pages, adjacent or
 * along a stride (a column of a row-major matrix, message version 3): the
 * engine handles a run's pages one after the other and joins their output in
 * the same way whatever the distance between them, so which pages form a run
 * is only their labels here, and strided runs need no other model. The
 * C engine's strided runs are checked by tests/coherence, tests/sim and
 * tests/fuzz.
 *
 * Checked in every state: SWMR (a writable copy excludes every other copy),
 * data-value (every mapped copy holds the latest write, checked again on every
 * read), a fetch never sees its backing change, every message finds a row of
 * the table (no illegal transition). The model has no request ids: the guards
 * on them ("our request id", "served id") always hold here, since every
 * message answers the transaction it belongs to; the C engine checks them
 * (tests/coherence, tests/fuzz). At the end: no invalid end state (spin's
 * deadlock check: some thread or request never completes), and nothing
 * transient, busy or queued is left.
 */
#ifndef NN
#define NN 3
#endif
#ifndef NP
#define NP 1
#endif
#ifndef OPS
#define OPS 2
#endif
/* Node 0 does OPS + OPS0_EXTRA accesses (to reach upgrades in cheap configurations). */
#ifndef OPS0_EXTRA
#define OPS0_EXTRA 0
#endif
/* Pages per run (1: no runs; 2: runs of 2 pages, homed together). */
#ifndef RUN
#define RUN 1
#endif
#define NSLOT 8

/* Node states (dsm_coh_node_state_t). */
#define I      0
#define S      1
#define M      2
#define IS_AD  3
#define IS_D   4
#define IM_AD  5
#define IM_D   6
#define SM_A   7
#define MI_WB  8
#define MS_WB  9

/* Home states (dsm_coh_home_state_t). */
#define H_U          0
#define H_S          1
#define H_M          2
#define WAIT_DG      3
#define WAIT_INV     4
#define WAIT_DONE_S  5
#define WAIT_DONE_M  6

/* Messages (dsm_coh_msg_type_t) and GRANT flags. */
#define REQ_READ   1
#define REQ_WRITE  2
#define GRANT      3
#define INV        4
#define DOWNGRADE  5
#define ACK        6
#define DONE       7
#define F_EXCL     1
#define F_DATA     2

/* Node events (dsm_coh_node_event_t). */
#define LOCAL_READ       0
#define LOCAL_WRITE      1
#define GRANT_S          2
#define GRANT_M_DATA     3
#define GRANT_M_UPGRADE  4
#define EV_INV           5
#define EV_DOWNGRADE     6
#define FETCH_DONE       7
#define WB_DONE          8

#define HOME(p)  (((p) / RUN) % NN)
#define IX(n, p) ((n) * NP + (p))
#define BIT(n)   (1 << (n))

/* Node side and the modelled memory. */
byte ns[NN * NP];
bit  present[NN * NP];
bit  writable[NN * NP];
byte val[NN * NP];
byte stg[NN * NP];
bit  fetching[NN * NP];
byte fsnap[NN * NP];
bit  wbing[NN * NP];
byte bk[NP];
byte ref[NP];
byte rma_inflight;

/* Home side. */
byte hs[NP];
byte holders[NP];
byte queued[NP];
byte qn[NP * NN];
byte qt[NP * NN];
byte qlen[NP];
byte hreq[NP];
byte hacks[NP];

/*
 * The network bag: each message one number (0 = free slot), kept sorted
 * after every step so that the same bag in another slot order is the same
 * state (the order of slots means nothing: any message may go next).
 */
#define MSG(t, s, d, pg, f, c) ((((((t) * 4 + (s)) * 4 + (d)) * 4 + (pg)) * 4 + (f)) * 2 + (c) - 1)
#define M_TYPE(m)  ((m) / 512)
#define M_SRC(m)   (((m) / 128) % 4)
#define M_DST(m)   (((m) / 32) % 4)
#define M_PAGE(m)  (((m) / 8) % 4)
#define M_FLAGS(m) (((m) / 2) % 4)
#define M_COUNT(m) ((m) % 2 + 1)
short net[NSLOT];
short gm;

/* One thread per node. */
byte ops[NN];
bit  tnew[NN];
byte tpage[NN];
bit  twrite[NN];
bit  tblocked[NN];
bit  tfault[NN];
byte fpage[NN];
bit  fwrite[NN];

/* Scratch, reset at the end of every step so it adds no states. */
byte gi;
byte gk;
byte gn;
byte gp;
byte gcnt;
byte gt;
byte gq;
byte gb; /* first slot of the messages this step sent (those it may merge into) */
byte gd; /* the run a step handles: node, sender, first page, pages left, type, event */
byte gs;
byte gv;
byte gc;
byte gy;
byte ge;

/* Whether net[i] is the message this step sent for the page before pg (same run). */
#define MERGES(i, t, s, d, pg, f) \
    ((pg) % RUN != 0 && (i) >= gb && net[i] == MSG(t, s, d, (pg) - 1, f, 1))

inline send(t, s, d, pg, f) {
    /* Sorted descending, so the first free slot is after the last message;
     * the messages of this step are from gb on (design.md 4.7: coalescing). */
    gi = 0;
    do
    :: gi < NSLOT && MERGES(gi, t, s, d, pg, f) -> net[gi] = MSG(t, s, d, (pg) - 1, f, 2); break
    :: gi < NSLOT && net[gi] == 0 -> net[gi] = MSG(t, s, d, pg, f, 1); break
    :: gi < NSLOT && net[gi] != 0 && !MERGES(gi, t, s, d, pg, f) -> gi++
    :: gi == NSLOT -> assert(false) /* NSLOT too small */
    od
}

/* gb: the first free slot when a step begins. */
inline net_base() {
    gb = 0;
    do
    :: gb < NSLOT && net[gb] != 0 -> gb++
    :: else -> break
    od
}

inline wake(n, p) {
    if
    :: tblocked[n] && tpage[n] == p -> tblocked[n] = 0
    :: else -> skip
    fi
}

/* ---- node-side ops ---- */
inline op_fetch(n, p) {
    assert(!fetching[IX(n, p)]);
    fetching[IX(n, p)] = 1;
    fsnap[IX(n, p)] = bk[p];
    rma_inflight++
}
inline op_write_back(n, p) {
    assert(present[IX(n, p)] && !writable[IX(n, p)] && !wbing[IX(n, p)]);
    wbing[IX(n, p)] = 1;
    rma_inflight++
}
inline op_install(n, p, rw) {
    assert(!present[IX(n, p)]);
    present[IX(n, p)] = 1;
    writable[IX(n, p)] = rw;
    val[IX(n, p)] = stg[IX(n, p)];
    wake(n, p)
}
inline op_clear_wp(n, p) {
    assert(present[IX(n, p)]);
    writable[IX(n, p)] = 1;
    wake(n, p)
}
inline op_set_wp(n, p) {
    writable[IX(n, p)] = 0
}
inline op_zap(n, p) {
    present[IX(n, p)] = 0;
    writable[IX(n, p)] = 0
}

/* The node table (dsm_coh_node_rows). */
inline node_event(n, p, ev) {
    if
    :: ns[IX(n, p)] == I && ev == LOCAL_READ -> /* row: node I LOCAL_READ */
        send(REQ_READ, n, HOME(p), p, 0); ns[IX(n, p)] = IS_AD
    :: ns[IX(n, p)] == I && ev == LOCAL_WRITE -> /* row: node I LOCAL_WRITE */
        send(REQ_WRITE, n, HOME(p), p, 0); ns[IX(n, p)] = IM_AD
    :: ns[IX(n, p)] == S && ev == LOCAL_READ -> /* row: node S LOCAL_READ */
        wake(n, p)
    :: ns[IX(n, p)] == S && ev == LOCAL_WRITE -> /* row: node S LOCAL_WRITE */
        send(REQ_WRITE, n, HOME(p), p, 0); ns[IX(n, p)] = SM_A
    :: ns[IX(n, p)] == S && ev == EV_INV -> /* row: node S INV */
        op_zap(n, p); send(ACK, n, HOME(p), p, 0); ns[IX(n, p)] = I
    :: ns[IX(n, p)] == M && ev == LOCAL_READ -> /* row: node M LOCAL_READ */
        wake(n, p)
    :: ns[IX(n, p)] == M && ev == LOCAL_WRITE -> /* row: node M LOCAL_WRITE */
        wake(n, p)
    :: ns[IX(n, p)] == M && ev == EV_INV -> /* row: node M INV */
        op_set_wp(n, p); op_write_back(n, p); ns[IX(n, p)] = MI_WB
    :: ns[IX(n, p)] == M && ev == EV_DOWNGRADE -> /* row: node M DOWNGRADE */
        op_set_wp(n, p); op_write_back(n, p); ns[IX(n, p)] = MS_WB
    :: ns[IX(n, p)] == IS_AD && ev == LOCAL_READ -> skip /* row: node IS_AD LOCAL_READ */
    :: ns[IX(n, p)] == IS_AD && ev == LOCAL_WRITE -> skip /* row: node IS_AD LOCAL_WRITE */
    :: ns[IX(n, p)] == IS_AD && ev == GRANT_S -> /* row: node IS_AD GRANT_S [our request id] */
        op_fetch(n, p); ns[IX(n, p)] = IS_D
    :: ns[IX(n, p)] == IS_D && ev == LOCAL_READ -> skip /* row: node IS_D LOCAL_READ */
    :: ns[IX(n, p)] == IS_D && ev == LOCAL_WRITE -> skip /* row: node IS_D LOCAL_WRITE */
    :: ns[IX(n, p)] == IS_D && ev == FETCH_DONE -> /* row: node IS_D FETCH_DONE */
        op_install(n, p, 0); send(DONE, n, HOME(p), p, 0); ns[IX(n, p)] = S
    :: ns[IX(n, p)] == IM_AD && ev == LOCAL_READ -> skip /* row: node IM_AD LOCAL_READ */
    :: ns[IX(n, p)] == IM_AD && ev == LOCAL_WRITE -> skip /* row: node IM_AD LOCAL_WRITE */
    :: ns[IX(n, p)] == IM_AD && ev == GRANT_M_DATA -> /* row: node IM_AD GRANT_M_DATA [our request id] */
        op_fetch(n, p); ns[IX(n, p)] = IM_D
    :: ns[IX(n, p)] == IM_D && ev == LOCAL_READ -> skip /* row: node IM_D LOCAL_READ */
    :: ns[IX(n, p)] == IM_D && ev == LOCAL_WRITE -> skip /* row: node IM_D LOCAL_WRITE */
    :: ns[IX(n, p)] == IM_D && ev == FETCH_DONE -> /* row: node IM_D FETCH_DONE */
        op_install(n, p, 1); send(DONE, n, HOME(p), p, 0); ns[IX(n, p)] = M
    :: ns[IX(n, p)] == SM_A && ev == LOCAL_READ -> skip /* row: node SM_A LOCAL_READ */
    :: ns[IX(n, p)] == SM_A && ev == LOCAL_WRITE -> skip /* row: node SM_A LOCAL_WRITE */
    :: ns[IX(n, p)] == SM_A && ev == GRANT_M_UPGRADE -> /* row: node SM_A GRANT_M_UPGRADE [our request id] */
        op_clear_wp(n, p); send(DONE, n, HOME(p), p, 0); ns[IX(n, p)] = M
    :: ns[IX(n, p)] == SM_A && ev == EV_INV -> /* row: node SM_A INV */
        op_zap(n, p); wake(n, p); send(ACK, n, HOME(p), p, 0); ns[IX(n, p)] = IM_AD
    :: ns[IX(n, p)] == MI_WB && ev == LOCAL_READ -> skip /* row: node MI_WB LOCAL_READ */
    :: ns[IX(n, p)] == MI_WB && ev == LOCAL_WRITE -> skip /* row: node MI_WB LOCAL_WRITE */
    :: ns[IX(n, p)] == MI_WB && ev == WB_DONE -> /* row: node MI_WB WB_DONE */
        op_zap(n, p); wake(n, p); send(ACK, n, HOME(p), p, 0); ns[IX(n, p)] = I
    :: ns[IX(n, p)] == MS_WB && ev == LOCAL_READ -> skip /* row: node MS_WB LOCAL_READ */
    :: ns[IX(n, p)] == MS_WB && ev == LOCAL_WRITE -> skip /* row: node MS_WB LOCAL_WRITE */
    :: ns[IX(n, p)] == MS_WB && ev == WB_DONE -> /* row: node MS_WB WB_DONE */
        wake(n, p); send(ACK, n, HOME(p), p, 0); ns[IX(n, p)] = S
    :: else -> assert(false) /* no row: the C engine would reject this input */
    fi
}

/* ---- home side ---- */
inline grant(p, f) {
    if
    :: f & F_EXCL -> holders[p] = BIT(hreq[p])
    :: else -> holders[p] = holders[p] | BIT(hreq[p])
    fi;
    send(GRANT, HOME(p), hreq[p], p, f)
}

inline send_inv(p) {
    hacks[p] = 0;
    gk = 0;
    do
    :: gk < NN && gk != hreq[p] && (holders[p] & BIT(gk)) ->
        hacks[p]++; send(INV, HOME(p), gk, p, 0); gk++
    :: gk < NN && !(gk != hreq[p] && (holders[p] & BIT(gk))) -> gk++
    :: gk == NN -> break
    od
}

inline send_downgrade(p) {
    gk = 0;
    do
    :: gk < NN && (holders[p] & BIT(gk)) -> break
    :: gk < NN && !(holders[p] & BIT(gk)) -> gk++
    od;
    send(DOWNGRADE, HOME(p), gk, p, 0)
}

/* Serve request (r, t) in an idle state: the rows with "begin". */
inline serve(p, r, t) {
    hreq[p] = r;
    if
    :: hs[p] == H_U && t == REQ_READ -> /* row: home U REQ_READ */
        grant(p, F_DATA); hs[p] = WAIT_DONE_S
    :: hs[p] == H_U && t == REQ_WRITE -> /* row: home U REQ_WRITE */
        grant(p, F_EXCL | F_DATA); hs[p] = WAIT_DONE_M
    :: hs[p] == H_S && t == REQ_READ && !(holders[p] & BIT(r)) ->
        /* row: home S REQ_READ [sender holds none] */
        grant(p, F_DATA); hs[p] = WAIT_DONE_S
    :: hs[p] == H_S && t == REQ_WRITE && (holders[p] & ~BIT(r)) == 0 ->
        /* row: home S REQ_WRITE [no other holder] */
        grant(p, F_EXCL); hs[p] = WAIT_DONE_M
    :: hs[p] == H_S && t == REQ_WRITE && (holders[p] & ~BIT(r)) != 0 ->
        /* row: home S REQ_WRITE [other holders] */
        send_inv(p); hs[p] = WAIT_INV
    :: hs[p] == H_M && t == REQ_READ && !(holders[p] & BIT(r)) ->
        /* row: home M REQ_READ [sender holds none] */
        send_downgrade(p); hs[p] = WAIT_DG
    :: hs[p] == H_M && t == REQ_WRITE && !(holders[p] & BIT(r)) ->
        /* row: home M REQ_WRITE [sender holds none] */
        send_inv(p); hs[p] = WAIT_INV
    :: else -> assert(false) /* no row: honest nodes never ask so */
    fi
}

inline enqueue(p, r, t) {
    qn[p * NN + qlen[p]] = r;
    qt[p * NN + qlen[p]] = t;
    qlen[p]++;
    queued[p] = queued[p] | BIT(r)
}

/* serve_next: pop the FIFO head (the C engine keeps a linked list). */
inline serve_next(p) {
    if
    :: qlen[p] > 0 ->
        gn = qn[p * NN];
        gcnt = qt[p * NN];
        gk = 0;
        do
        :: gk + 1 < qlen[p] -> qn[p * NN + gk] = qn[p * NN + gk + 1];
                               qt[p * NN + gk] = qt[p * NN + gk + 1]; gk++
        :: gk + 1 >= qlen[p] -> break
        od;
        qlen[p]--;
        qn[p * NN + qlen[p]] = 0;
        qt[p * NN + qlen[p]] = 0;
        queued[p] = queued[p] & ~BIT(gn);
        serve(p, gn, gcnt)
    :: else -> skip
    fi
}

/* Guards of the enqueue rows: one outstanding request per node and page. */
#define NOT_QUEUED(p, r) (!(queued[p] & BIT(r)))
#define NOT_QUEUED_NOR_SERVED(p, r) (NOT_QUEUED(p, r) && (r) != hreq[p])

/* A request arrives at the home (table rows "begin" and "enqueue"). */
inline home_request(p, r, t) {
    if
    :: hs[p] == H_U || hs[p] == H_S || hs[p] == H_M -> serve(p, r, t)
    :: hs[p] == WAIT_DG && t == REQ_READ && NOT_QUEUED_NOR_SERVED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_DG REQ_READ [sender not queued, sender not requester] */
    :: hs[p] == WAIT_DG && t == REQ_WRITE && NOT_QUEUED_NOR_SERVED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_DG REQ_WRITE [sender not queued, sender not requester] */
    :: hs[p] == WAIT_INV && t == REQ_READ && NOT_QUEUED_NOR_SERVED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_INV REQ_READ [sender not queued, sender not requester] */
    :: hs[p] == WAIT_INV && t == REQ_WRITE && NOT_QUEUED_NOR_SERVED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_INV REQ_WRITE [sender not queued, sender not requester] */
    :: hs[p] == WAIT_DONE_S && t == REQ_READ && NOT_QUEUED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_DONE_S REQ_READ [sender not queued] */
    :: hs[p] == WAIT_DONE_S && t == REQ_WRITE && NOT_QUEUED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_DONE_S REQ_WRITE [sender not queued] */
    :: hs[p] == WAIT_DONE_M && t == REQ_READ && NOT_QUEUED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_DONE_M REQ_READ [sender not queued] */
    :: hs[p] == WAIT_DONE_M && t == REQ_WRITE && NOT_QUEUED(p, r) -> enqueue(p, r, t)
        /* row: home WAIT_DONE_M REQ_WRITE [sender not queued] */
    :: else -> assert(false) /* no row: the C engine would reject this request */
    fi
}

/* Guard "from other holder" ("served id" always holds in the model). */
#define FROM_OTHER_HOLDER(p, s) ((s) != hreq[p] && (holders[p] & BIT(s)))

inline home_ack(p, s) {
    if
    :: hs[p] == WAIT_DG && FROM_OTHER_HOLDER(p, s) ->
        /* row: home WAIT_DG ACK [served id, from other holder] */
        grant(p, F_DATA); hs[p] = WAIT_DONE_S
    :: hs[p] == WAIT_INV && FROM_OTHER_HOLDER(p, s) && hacks[p] > 1 ->
        /* row: home WAIT_INV ACK [served id, from other holder, more acks due] */
        holders[p] = holders[p] & ~BIT(s); hacks[p]--
    :: hs[p] == WAIT_INV && FROM_OTHER_HOLDER(p, s) && hacks[p] == 1 &&
       (holders[p] & BIT(hreq[p])) ->
        /* row: home WAIT_INV ACK [served id, from other holder, last ack, requester holds] */
        holders[p] = holders[p] & ~BIT(s); hacks[p]--;
        grant(p, F_EXCL); hs[p] = WAIT_DONE_M
    :: hs[p] == WAIT_INV && FROM_OTHER_HOLDER(p, s) && hacks[p] == 1 &&
       !(holders[p] & BIT(hreq[p])) ->
        /* row: home WAIT_INV ACK [served id, from other holder, last ack, requester absent] */
        holders[p] = holders[p] & ~BIT(s); hacks[p]--;
        grant(p, F_EXCL | F_DATA); hs[p] = WAIT_DONE_M
    :: else -> assert(false) /* no row: the C engine would reject this ACK */
    fi
}

inline home_done(p, s) {
    if
    :: hs[p] == WAIT_DONE_S && s == hreq[p] -> hs[p] = H_S; serve_next(p)
        /* row: home WAIT_DONE_S DONE [served id, from requester] */
    :: hs[p] == WAIT_DONE_M && s == hreq[p] -> hs[p] = H_M; serve_next(p)
        /* row: home WAIT_DONE_M DONE [served id, from requester] */
    :: else -> assert(false) /* no row: the C engine would reject this DONE */
    fi
}

/* SWMR and data-value over every copy; run after every step. */
inline check() {
    gp = 0;
    do
    :: gp < NP ->
        gcnt = 0; gk = 0; gn = 0;
        do
        :: gn < NN ->
            assert(!writable[IX(gn, gp)] || present[IX(gn, gp)]);
            assert(!present[IX(gn, gp)] || val[IX(gn, gp)] == ref[gp]);
            gcnt = gcnt + present[IX(gn, gp)];
            gk = gk + writable[IX(gn, gp)];
            gn++
        :: gn == NN -> break
        od;
        assert(gk == 0 || gk == 1 && gcnt == 1);
        gp++
    :: gp == NP -> break
    od;
    sort_net();
    gi = 0; gk = 0; gn = 0; gp = 0; gcnt = 0; gt = 0; gq = 0;
    gb = 0; gd = 0; gs = 0; gv = 0; gc = 0; gy = 0; ge = 0
}

/* Insertion sort, descending: canonical bag (see net). */
inline sort_net() {
    gi = 1;
    do
    :: gi < NSLOT ->
        gm = net[gi]; gk = gi;
        do
        :: gk > 0 && net[gk - 1] < gm -> net[gk] = net[gk - 1]; gk--
        :: gk == 0 || net[gk - 1] >= gm -> break
        od;
        net[gk] = gm; gi++
    :: gi == NSLOT -> break
    od;
    gm = 0
}

/*
 * The steps. Each is one atomic transition whose first part picks its subject
 * nondeterministically (which message, which node, which page), so that the
 * body exists once in the generated verifier.
 */

/* Deliver any message of the bag: the messages are a prefix of the sorted array. */
inline deliver_step() {
    atomic {
        net[0] != 0 ->
        gt = 0;
        do
        :: gt + 1 < NSLOT && net[gt + 1] != 0 -> gt++
        :: break
        od;
        gm = net[gt];
        net[gt] = 0;
        gb = gt;
        gd = M_DST(gm); gs = M_SRC(gm); gv = M_PAGE(gm); gc = M_COUNT(gm); gy = M_TYPE(gm);
        ge = (gy == GRANT -> (M_FLAGS(gm) == F_DATA -> GRANT_S :
                              (M_FLAGS(gm) == F_EXCL -> GRANT_M_UPGRADE : GRANT_M_DATA)) :
              (gy == INV -> EV_INV : EV_DOWNGRADE));
        gm = 0;
        /* A run: each page in page order, as that many messages. */
        do
        :: gc > 0 ->
            if
            :: gy == REQ_READ || gy == REQ_WRITE -> home_request(gv, gs, gy)
            :: gy == ACK -> home_ack(gv, gs)
            :: gy == DONE -> home_done(gv, gs)
            :: else -> node_event(gd, gv, ge)
            fi;
            gv++; gc--
        :: gc == 0 -> break
        od;
        check()
    }
}

/*
 * Which node or page a step is about: first count the candidates, then pick
 * the k-th for a nondeterministic k. Never blocks once the step's guard (that
 * a candidate exists) held: a blocked statement inside an atomic step would
 * split it.
 */
#define T_READY(n) (ops[n] > 0 && !tblocked[n])
#define F_READY(n) (tfault[n])
#define R_READY(i) (fetching[i] || wbing[i])
#define ANY_NODE(C) (C(0) || C(1) || NN > 2 && C(2))

inline pick_kth() {
    gk = 0;
    do
    :: gk + 1 < gcnt -> gk++
    :: break
    od
}

#define PICK(C, LIMIT)                                                      \
    gcnt = 0; gt = 0;                                                       \
    do                                                                      \
    :: gt < LIMIT && C(gt) -> gcnt++; gt++                                  \
    :: gt < LIMIT && !C(gt) -> gt++                                         \
    :: gt == LIMIT -> break                                                 \
    od;                                                                     \
    pick_kth();                                                             \
    gt = 0;                                                                 \
    do                                                                      \
    :: C(gt) && gk == 0 -> break                                            \
    :: C(gt) && gk > 0 -> gk--; gt++                                       \
    :: !C(gt) -> gt++                                                       \
    od;                                                                     \
    gcnt = 0

/* A thread: start an access if needed, then do it or fault. */
inline thread_step() {
    atomic {
        ANY_NODE(T_READY) ->
        PICK(T_READY, NN);
        if
        :: tnew[gt] ->
            tnew[gt] = 0;
            if
            :: twrite[gt] = 0
            :: twrite[gt] = 1
            fi;
            gk = 0;
            do
            :: gk < NP - 1 -> gk++
            :: break
            od;
            tpage[gt] = gk
        :: else -> skip
        fi;
        gp = tpage[gt];
        if
        :: twrite[gt] && present[IX(gt, gp)] && writable[IX(gt, gp)] ->
            ref[gp]++; val[IX(gt, gp)] = ref[gp]; ops[gt]--; tnew[gt] = 1
        :: !twrite[gt] && present[IX(gt, gp)] ->
            assert(val[IX(gt, gp)] == ref[gp]); ops[gt]--; tnew[gt] = 1
        :: else ->
            tblocked[gt] = 1; tfault[gt] = 1; fpage[gt] = gp; fwrite[gt] = twrite[gt]
        fi;
        if
        :: ops[gt] == 0 -> tnew[gt] = 0; tpage[gt] = 0; twrite[gt] = 0
        :: else -> skip
        fi;
        check()
    }
}

/* The runtime reads a fault event (maybe late: the thread may be awake again). */
inline fault_step() {
    atomic {
        ANY_NODE(F_READY) ->
        PICK(F_READY, NN);
        net_base();
        tfault[gt] = 0; gv = fpage[gt]; gc = 1;
        fpage[gt] = 0;
        ge = (fwrite[gt] -> LOCAL_WRITE : LOCAL_READ);
        fwrite[gt] = 0;
        /* As a window: the run of the fault's whole block. */
        if
        :: RUN > 1 -> gv = gv - gv % RUN; gc = RUN
        :: true -> skip
        fi;
        do
        :: gc > 0 -> node_event(gt, gv, ge); gv++; gc--
        :: gc == 0 -> break
        od;
        check()
    }
}

/* An RMA (fetch or write-back) of any node and page completes. */
inline rma_step() {
    atomic {
        rma_inflight > 0 ->
        PICK(R_READY, NN * NP);
        net_base();
        gv = gt % NP;
        gt = gt / NP;
        gc = 1;
        /* The next page of the run in the same transfer: maybe completed with it. */
        if
        :: gv % RUN == 0 && gv + 1 < NP && RUN > 1 &&
           (fetching[IX(gt, gv)] && fetching[IX(gt, gv + 1)] ||
            wbing[IX(gt, gv)] && wbing[IX(gt, gv + 1)]) -> gc = 2
        :: true -> skip
        fi;
        do
        :: gc > 0 ->
            rma_inflight--;
            if
            :: fetching[IX(gt, gv)] ->
                assert(bk[gv] == fsnap[IX(gt, gv)]); /* backing stable during a fetch */
                fetching[IX(gt, gv)] = 0; fsnap[IX(gt, gv)] = 0;
                stg[IX(gt, gv)] = bk[gv];
                node_event(gt, gv, FETCH_DONE)
            :: else ->
                assert(present[IX(gt, gv)]);
                wbing[IX(gt, gv)] = 0;
                bk[gv] = val[IX(gt, gv)];
                node_event(gt, gv, WB_DONE)
            fi;
            gv++; gc--
        :: gc == 0 -> break
        od;
        check()
    }
}

active proctype system()
{
    byte n;

    atomic {
        n = 0;
        do
        :: n < NN -> ops[n] = OPS + (n == 0 -> OPS0_EXTRA : 0); tnew[n] = 1; n++
        :: n == NN -> break
        od;
        n = 0
    }
    do
    :: deliver_step()
    :: thread_step()
    :: fault_step()
    :: rma_step()
    :: atomic {
           net[0] == 0 && rma_inflight == 0 && !ANY_NODE(T_READY) && !ANY_NODE(F_READY) ->
           /* Nothing in flight: every access done, nothing transient is left. */
           n = 0;
           do
           :: n < NN -> assert(ops[n] == 0 && !tblocked[n] && !tfault[n]); n++
           :: n == NN -> break
           od;
           n = 0;
           do
           :: n < NN * NP -> assert(ns[n] == I || ns[n] == S || ns[n] == M); n++
           :: n == NN * NP -> break
           od;
           n = 0;
           do
           :: n < NP -> assert(hs[n] <= H_M && qlen[n] == 0); n++
           :: n == NP -> break
           od;
           break
       }
    od
}
