// Next requires a root layout in the app directory; this app only serves the API route.
export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
