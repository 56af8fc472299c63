// Starts ReDoc on /redoc. ReDoc writes its styles into <style> elements as it renders; it marks each with the
// nonce the page's Content-Security-Policy names, so no other inline style is allowed.
(function () {
  "use strict";
  var element = document.getElementById("redoc");
  Redoc.init(element.dataset.openapiUrl, { nonce: element.dataset.nonce }, element);
})();
