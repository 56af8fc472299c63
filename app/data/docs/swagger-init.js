// Starts Swagger UI on /docs with FastAPI's settings. A file of the service's own rather than an inline script,
// so that the page's Content-Security-Policy can allow scripts from the service alone ('self').
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    // The badge would send the document to validator.swagger.io: nothing leaves for another host.
    validatorUrl: null,
  });
})();
