/* Staffing advice: the fewest windows per hour that keep the 90th percentile wait within
 * the hall's target, by Erlang C (each hour as a steady M/M/c queue), the same computation as
 * sim/model.c's erlang_c_staff behind the "windows by Erlang C" column of `qsim --staffing`.
 * qsim then simulates days and may add a window to a busy hour that leaves a queue to the next;
 * this page shows the theory, from the hall's own arrivals and service time. */
(function (global) {
  'use strict';

  const Staffing = {};
  Staffing.SHARE_LATE = 0.10; /* at most this share may wait longer: the 90th percentile */
  Staffing.MAX_WINDOWS = 62; /* qsim's bound (QSIM_MAX_WINDOWS - 2) */

  /* The probability that an arrival waits in M/M/c with offered load a (erlangs); 1 when
   * the queue is unstable. */
  Staffing.erlangC = function (c, a) {
    if (a >= c) return 1;
    let sum = 0, term = 1; /* term = a^k / k! */
    for (let k = 0; k < c; k++) {
      sum += term;
      term *= a / (k + 1);
    }
    const top = term * c / (c - a);
    return top / (sum + top);
  };

  /* P(wait > t) in M/M/c, lambda per second. */
  Staffing.tail = function (c, lambda, meanService, t) {
    const a = lambda * meanService;
    if (a >= c) return 1;
    return Staffing.erlangC(c, a) * Math.exp(-(c - a) * t / meanService);
  };

  /* The fewest windows for which at most shareLate of the arrivals wait longer than sla
   * seconds; 0 without arrivals, max when none up to it does. arrivalsPerHour may be a mean. */
  Staffing.windowsNeeded = function (arrivalsPerHour, meanService, sla, shareLate, max) {
    const lambda = arrivalsPerHour / 3600;
    shareLate = shareLate === undefined ? Staffing.SHARE_LATE : shareLate;
    max = max || Staffing.MAX_WINDOWS;
    if (lambda <= 0) return 0;
    for (let c = 1; c < max; c++)
      if (Staffing.tail(c, lambda, meanService, sla) <= shareLate) return c;
    return max;
  };

  /* The advice per hour from stats rows by hour: [{hour, arrivals, windows, row}] for the
   * hours with tickets, arrivals being the mean per open day over `days` days. */
  Staffing.advise = function (hourRows, days, meanService, sla) {
    const out = [];
    days = Math.max(1, days);
    hourRows.forEach(function (row) {
      if (!row.issued) return;
      const arrivals = row.issued / days;
      out.push({ hour: parseInt(row.key, 10), arrivals: arrivals,
        windows: Staffing.windowsNeeded(arrivals, meanService, sla), row: row });
    });
    return out;
  };

  global.Staffing = Staffing;
})(window);
