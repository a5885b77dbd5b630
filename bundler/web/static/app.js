// bundle serve: live progress of an apply or a return (polls the job's JSON), and
// the conflict form's "start from the offline text". Nothing else runs here.
(function () {
  var job = document.getElementById("job");
  if (job && job.dataset.state === "running") {
    var bar = document.getElementById("job-progress");
    var phase = document.getElementById("job-phase");
    var poll = function () {
      fetch(job.dataset.url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) {
        phase.textContent = j.phase + (j.total ? ": " + j.done + " of " + j.total : (j.done ? ": " + j.done : ""));
        if (j.total) { bar.max = j.total; bar.value = j.done; }
        if (j.state === "running") { setTimeout(poll, 300); } else { location.reload(); }
      }).catch(function () { setTimeout(poll, 1000); });
    };
    poll();
  }
  var take = document.getElementById("take-offline");
  if (take) {
    take.addEventListener("click", function () {
      document.getElementById("wpTextbox1").value = take.dataset.text;
    });
  }
})();
