console.log(JSON.stringify({ targets: [] }));
