// thio: Great Expectations Data Docs without the network.
//
// GX's pages load jQuery and bootstrap-table from CDNs and build their tables (the index's
// validation results and expectation suites) in the browser. thio.expectations loads this
// file only when jQuery did not load (an auditor's machine offline): it stands in for
// jQuery, draws each bootstrap-table as a plain HTML table from the same data, with a link
// per row, and ignores every other call.
(function () {
  "use strict";

  function render(table, options) {
    var columns = (options.columns || []).filter(function (column) {
      return column.title && column.visible !== "false" && column.visible !== false;
    });
    var head = document.createElement("thead");
    var titles = document.createElement("tr");
    columns.forEach(function (column) {
      var cell = document.createElement("th");
      cell.textContent = column.title;
      titles.appendChild(cell);
    });
    head.appendChild(titles);
    var body = document.createElement("tbody");
    (options.data || []).forEach(function (row) {
      var line = document.createElement("tr");
      columns.forEach(function (column, index) {
        var cell = document.createElement("td");
        var value = row[column.field];
        // the values are GX's own rendered HTML (escaped by its renderer); its status icons
        // come from a CDN's icon font: words stand in for them
        var html = value === undefined || value === null ? "" : String(value);
        if (html.indexOf("ge-success-icon") >= 0) {
          html = "passed";
        } else if (html.indexOf("ge-failed-icon") >= 0) {
          html = "FAILED";
        }
        if (index === 0 && row._table_row_link_path) {
          var link = document.createElement("a");
          link.setAttribute("href", row._table_row_link_path);
          link.innerHTML = html.trim() || "open";
          cell.appendChild(link);
        } else {
          cell.innerHTML = html;
        }
        line.appendChild(cell);
      });
      if (row._table_row_link_path) {
        line.style.cursor = "pointer";
        line.addEventListener("click", function () {
          window.location = row._table_row_link_path;
        });
      }
      body.appendChild(line);
    });
    table.innerHTML = "";
    table.appendChild(head);
    table.appendChild(body);
    table.setAttribute("border", "1");
    table.style.borderCollapse = "collapse";
  }

  function chain(elements) {
    var api = {
      bootstrapTable: function (options) {
        if (options && typeof options === "object") {
          elements.forEach(function (table) {
            render(table, options);
          });
        }
        return proxy;
      },
    };
    var proxy = new Proxy(api, {
      get: function (target, name) {
        if (name in target) {
          return target[name];
        }
        return function () {
          return proxy;
        };
      },
    });
    return proxy;
  }

  window.jQuery = window.$ = function (selector) {
    if (typeof selector === "string") {
      try {
        return chain(Array.prototype.slice.call(document.querySelectorAll(selector)));
      } catch (error) {
        return chain([]);
      }
    }
    return chain([]);
  };
})();
