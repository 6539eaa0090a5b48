// Starts Swagger UI on the page /schema serves (service/api/schema_page.py). A file, not an
// inline script, so the page's policy can refuse every inline script.
"use strict";
window.ui = SwaggerUIBundle({
  url: document.body.dataset.schema,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // no request to swagger.io's validator
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "StandaloneLayout",
});
