// An address picks its commune/ward among those of the province chosen: the other provinces' wards are hidden, and
// a ward of another province is cleared. Without this script every ward is offered, grouped by province.
(function () {
  "use strict";
  document.querySelectorAll('select[data-area="province"]').forEach(function (province) {
    var ward = document.getElementById(province.id.replace(/-province_code$/, "-ward_code"));
    if (!ward) { return; }
    function narrow() {
      ward.querySelectorAll("optgroup[data-province]").forEach(function (group) {
        var shown = !province.value || group.getAttribute("data-province") === province.value;
        group.hidden = !shown;
        group.disabled = !shown;
      });
      var chosen = ward.selectedOptions[0];
      if (chosen && chosen.parentElement.tagName === "OPTGROUP" && chosen.parentElement.disabled) { ward.value = ""; }
    }
    province.addEventListener("change", narrow);
    narrow();
  });
}());
