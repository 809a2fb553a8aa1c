package sandbox

import (
	"embed"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"
)

// static holds the page, its script and its style sheet.
//
//go:embed static
var static embed.FS

// contentTypes are the types of the files in static, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// pagePolicy is the page's Content-Security-Policy: its own script, style
// and API only, nothing inline, no framing.
const pagePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// servePage answers GET /sandbox with the page.
func servePage(c *gin.Context) { serveFile(c, "index.html") }

// serveStatic answers GET /sandbox/static/:file with an embedded file.
func serveStatic(c *gin.Context) { serveFile(c, c.Param("file")) }

// serveFile answers with the embedded file name, or 404.
func serveFile(c *gin.Context, name string) {
	ct, known := contentTypes[path.Ext(name)]
	data, err := static.ReadFile("static/" + name)
	if !known || err != nil || name == "" || path.Base(name) != name {
		fail(c, &reqError{status: http.StatusNotFound, code: "not_found", message: "no such file"})
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("Referrer-Policy", "no-referrer")
	c.Data(http.StatusOK, ct, data)
}
